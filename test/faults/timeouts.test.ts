/**
 * Every AWS call ends in bounded time: the built CLI against the fault proxy (half-open,
 * dripping) and against a port whose connects never complete, with the time bounds set low
 * through AUDITFORGE_CONNECT_TIMEOUT / AUDITFORGE_READ_TIMEOUT. A streamed export whose bytes
 * keep flowing is not cut, however long it takes.
 */
import {createHash} from 'node:crypto'
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, beforeEach, describe, expect, inject, it} from 'vitest'

import {type FaultProxy, startFaultProxy} from '../fixtures/fault-proxy.js'
import {startUnacceptingListener} from '../fixtures/unaccepting-listener.js'
import {runCli} from '../helpers/cli.js'
import {auditShardKey, putIndex, putRaw, randomEngagementId, seedRecord, seedS3} from '../helpers/commands.js'
import {createSharedBucket} from '../helpers/s3.js'

let proxy: FaultProxy
let bucket: string
const engagementId = randomEngagementId()
let log = ''

beforeAll(async () => {
  proxy = await startFaultProxy(inject('motoEndpoint'))
  const s3 = seedS3()
  bucket = await createSharedBucket(s3, 'timeouts')
  await putIndex(s3, bucket, {engagements: [seedRecord(engagementId)]})
  // One shard of about 3 MB: long enough that dripping it outlasts the per-attempt deadline.
  const line = JSON.stringify({
    event: 'finding.updated',
    actor: 'arn:aws:iam::123456789012:user/a',
    detail: 'x'.repeat(200),
  })
  log = `${Array.from({length: 14_000}, () => line).join('\n')}\n`
  await putRaw(s3, bucket, auditShardKey(engagementId), log, 'application/x-ndjson')
})
afterAll(() => proxy.close())
beforeEach(() => proxy.reset())

/** Runs the CLI through the proxy and times it. */
async function timed(args: string[], env: Record<string, string>) {
  const started = Date.now()
  const result = await runCli([...args, '--shared-bucket', bucket], {
    env: {AWS_ENDPOINT_URL: proxy.endpoint, ...env},
    timeout: 40_000,
  })
  return {...result, elapsed: Date.now() - started, firstLine: result.stderr.split('\n')[0]}
}

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

describe('time bounds', () => {
  it('a half-open endpoint (accepts, never answers) fails with exit 1 after attempts × read timeout', async () => {
    proxy.set({mode: 'blackhole'})
    // Default 5 attempts of 0.5 s idle each, plus at most ~3 s of retry backoff and start-up.
    const result = await timed(['engagement', 'list'], {AUDITFORGE_READ_TIMEOUT: '0.5'})
    expect(result.code).toBe(1)
    expect(result.elapsed).toBeLessThan(15_000)
    expect(result.firstLine).toMatch(
      new RegExp(
        `^Error: Reading the engagement index s3://${bucket}/auditforge/engagements\\.json: no answer from ${escaped(proxy.endpoint)} within 0\\.5 s \\(timed out\\)$`,
      ),
    )
    expect(proxy.log.filter((entry) => entry.fault === 'blackhole')).toHaveLength(5)
  })

  it('a server that drips its answer forever is cut at the per-attempt deadline (4 × read timeout)', async () => {
    proxy.set({mode: 'drip', drip: {bytes: 1, everyMs: 150}})
    const result = await timed(['engagement', 'list'], {AUDITFORGE_READ_TIMEOUT: '0.5', AWS_MAX_ATTEMPTS: '2'})
    expect(result.code).toBe(1)
    expect(result.elapsed).toBeLessThan(12_000)
    expect(result.firstLine).toMatch(
      new RegExp(
        `^Error: Reading the engagement index s3://${bucket}/auditforge/engagements\\.json: the answer from ${escaped(proxy.endpoint)} did not complete within 2 s \\(timed out\\)$`,
      ),
    )
  })

  it('a non-streamed answer whose body drips is cut at the deadline too', async () => {
    proxy.set({mode: 'drip', match: {query: 'list-type'}, drip: {bytes: 1, everyMs: 100, from: 'body'}})
    const result = await timed(['audit-log', 'export', engagementId], {
      AUDITFORGE_READ_TIMEOUT: '0.5',
      AWS_MAX_ATTEMPTS: '1',
    })
    expect(result.code).toBe(1)
    expect(result.elapsed).toBeLessThan(10_000)
    expect(result.firstLine).toMatch(
      new RegExp(`the answer from ${escaped(proxy.endpoint)} did not complete within 2 s \\(timed out\\)$`),
    )
  })

  it('a GetObject body that is not an export stream (the index) is cut at the deadline too', async () => {
    proxy.set({mode: 'drip', match: {path: /engagements\.json$/}, drip: {bytes: 1, everyMs: 200, from: 'body'}})
    const result = await timed(['engagement', 'list'], {AUDITFORGE_READ_TIMEOUT: '0.5', AWS_MAX_ATTEMPTS: '1'})
    expect(result.code).toBe(1)
    expect(result.elapsed).toBeLessThan(10_000)
    expect(result.firstLine).toMatch(
      new RegExp(
        `^Error: Reading the engagement index s3://${bucket}/auditforge/engagements\\.json: the answer from ${escaped(proxy.endpoint)} did not complete within 2 s \\(timed out\\)$`,
      ),
    )
  })

  it('credentials from an SSO profile are fetched under the same bounds (a half-open SSO portal fails in bounded time)', async () => {
    const home = await mkdtemp(join(tmpdir(), 'sso-home-'))
    try {
      const startUrl = 'https://auditforge-test.awsapps.com/start'
      await mkdir(join(home, '.aws', 'sso', 'cache'), {recursive: true})
      await writeFile(
        join(home, '.aws', 'config'),
        `[profile sso-test]\nsso_start_url = ${startUrl}\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = Auditor\nregion = us-east-1\n`,
      )
      const token = {
        accessToken: 'token',
        expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        region: 'us-east-1',
        startUrl,
      }
      await writeFile(
        join(home, '.aws', 'sso', 'cache', `${createHash('sha1').update(startUrl).digest('hex')}.json`),
        JSON.stringify(token),
      )
      proxy.set({mode: 'blackhole', match: {path: /federation\/credentials/}})
      const result = await timed(['engagement', 'list'], {
        HOME: home,
        AWS_PROFILE: 'sso-test',
        AWS_ACCESS_KEY_ID: undefined as unknown as string,
        AWS_SECRET_ACCESS_KEY: undefined as unknown as string,
        AWS_ENDPOINT_URL_SSO: proxy.endpoint,
        AUDITFORGE_READ_TIMEOUT: '0.5',
        AUDITFORGE_CONNECT_TIMEOUT: '1',
        AWS_MAX_ATTEMPTS: '1',
      })
      expect(proxy.log.some((entry) => entry.fault === 'blackhole')).toBe(true)
      expect(result.code).toBe(1)
      expect(result.elapsed).toBeLessThan(15_000)
      expect(result.stderr.trim().split('\n')[0]).toMatch(/^Error: /)
    } finally {
      await rm(home, {recursive: true, force: true})
    }
  })

  it('a streamed export is not cut while bytes flow, even past the per-attempt deadline', async () => {
    // About 1 MB/s: the 3 MB shard takes about 3 s, well past the 2 s deadline; never 0.5 s idle.
    proxy.set({mode: 'drip', match: {path: /audit_log\/shard-/}, drip: {bytes: 32 * 1024, everyMs: 30, from: 'body'}})
    const result = await timed(['audit-log', 'export', engagementId], {
      AUDITFORGE_READ_TIMEOUT: '0.5',
      AWS_MAX_ATTEMPTS: '1',
    })
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(log)
    expect(proxy.log.filter((entry) => entry.fault === 'drip')).toHaveLength(1)
    expect(result.elapsed).toBeGreaterThan(2_000)
  })

  it('a connect that never completes fails after attempts × connect timeout, naming the endpoint', async () => {
    const listener = await startUnacceptingListener()
    try {
      const started = Date.now()
      const result = await runCli(['engagement', 'list', '--shared-bucket', bucket], {
        env: {AWS_ENDPOINT_URL: listener.endpoint, AUDITFORGE_CONNECT_TIMEOUT: '1', AWS_MAX_ATTEMPTS: '2'},
        timeout: 40_000,
      })
      expect(result.code).toBe(1)
      expect(Date.now() - started).toBeLessThan(8_000)
      expect(result.stderr.split('\n')[0]).toBe(
        `Error: Reading the engagement index s3://${bucket}/auditforge/engagements.json: could not connect to ${listener.endpoint} within 1 s (timed out)`,
      )
    } finally {
      listener.close()
    }
  })

  it('a refused connection names the endpoint', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const {port} = server.address() as {port: number}
    await new Promise((resolve) => server.close(resolve))
    const result = await runCli(['engagement', 'list', '--shared-bucket', bucket], {
      env: {AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`, AWS_MAX_ATTEMPTS: '1'},
    })
    expect(result.code).toBe(1)
    expect(result.stderr.split('\n')[0]).toMatch(
      new RegExp(`: could not reach http://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\)$`),
    )
  })

  it.each(['0', 'soon', '-5', '7200'])(
    'AUDITFORGE_READ_TIMEOUT=%j is exit 2 with one line, before any AWS call',
    async (value) => {
      const result = await timed(['engagement', 'list'], {AUDITFORGE_READ_TIMEOUT: value})
      expect(result.code).toBe(2)
      expect(result.firstLine).toBe(
        `Error: Invalid AUDITFORGE_READ_TIMEOUT ${JSON.stringify(value)}: expected seconds, more than 0 and at most 3600`,
      )
      expect(proxy.log).toEqual([])
    },
  )

  it('AUDITFORGE_CONNECT_TIMEOUT is validated the same way', async () => {
    const result = await timed(['engagement', 'list'], {AUDITFORGE_CONNECT_TIMEOUT: '5s'})
    expect(result.code).toBe(2)
    expect(result.firstLine).toMatch(/^Error: Invalid AUDITFORGE_CONNECT_TIMEOUT "5s"/)
  })
})
