/**
 * Corrections from a first operator's trial, end to end on moto (and, for the wrong endpoint, a
 * loopback server that answers JSON like some other service): what each one says, its exit
 * code, and that nothing was changed where nothing may be.
 */
import {randomBytes} from 'node:crypto'
import {type Server, createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {
  bucketExists,
  expectedBucketName,
  putIndex,
  putRaw,
  randomEngagementId,
  readIndex,
  recordsOf,
  seedRecord,
} from '../helpers/commands.js'
import type {MigrateJson} from '../helpers/migrate.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

interface JsonError {
  error: {code: string; message: string; exit: number}
}

describe('engagement show', () => {
  it('prints shared for an engagement in the shared bucket, like engagement list; --json keeps the stored ""', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'show')
    const id = randomEngagementId()
    const migrated = randomEngagementId()
    await putIndex(s3, shared, {
      engagements: [seedRecord(id), seedRecord(migrated, {source_bucket: expectedBucketName(migrated)})],
    })

    const [show, list, json, other] = await Promise.all([
      runCli(['engagement', 'show', id, '--shared-bucket', shared]),
      runCli(['engagement', 'list', '--shared-bucket', shared]),
      runJson<{source_bucket: string}>(['engagement', 'show', id, '--shared-bucket', shared]),
      runCli(['engagement', 'show', migrated, '--shared-bucket', shared]),
    ])
    expect(show.code, show.stderr).toBe(0)
    expect(show.stdout).toMatch(/source_bucket\s+\S?\s*shared\b/)
    expect(list.stdout).toMatch(new RegExp(`${id}.*shared`))
    expect(json.json.source_bucket).toBe('')
    expect(other.stdout).toMatch(new RegExp(`source_bucket.*${expectedBucketName(migrated)}`))
    expect(other.stdout).not.toMatch(/\bshared\b/)

    // engagement create says it the same way.
    const created = await runCli([
      'engagement',
      'create',
      '--name',
      'In the shared bucket',
      '--client-id',
      'c',
      '--no-isolated',
      '--shared-bucket',
      shared,
    ])
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout).toMatch(/source_bucket\s+\S?\s*shared\b/)
  })
})

describe('migrate rollback', () => {
  it('prints the next commands once it has succeeded', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'rollback')
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    await putRaw(s3, shared, `auditforge/engagements/${id}/findings.json`, '{"findings": []}')
    const migrated = await runCli(['migrate', '--engagement-id', id, '--execute', '--yes', '--shared-bucket', shared])
    expect(migrated.code, migrated.stderr).toBe(0)
    const bucket = expectedBucketName(id)

    const rolledBack = await runCli(['migrate', 'rollback', '--engagement-id', id, '--yes', '--shared-bucket', shared])
    expect(rolledBack.code, rolledBack.stderr).toBe(0)
    expect(rolledBack.stdout).toBe('')
    const lines = rolledBack.stderr.split('\n')
    const next = lines.indexOf('Next:')
    expect(next, rolledBack.stderr).toBeGreaterThan(0)
    expect(lines.slice(next + 1, next + 5).map((line) => line.replace(/\s+#.*$/, ''))).toEqual([
      `  auditforge engagement show ${id}`,
      `  auditforge migrate evidence ${id}`,
      `  auditforge migrate --engagement-id ${id} --execute`,
      `  auditforge bucket decommission ${bucket}`,
    ])
    expect(recordsOf((await readIndex(s3, shared)).json)[0].source_bucket).toBe('')

    // Nothing to roll back: no next steps either.
    const again = await runCli(['migrate', 'rollback', '--engagement-id', id, '--yes', '--shared-bucket', shared])
    expect(again.code).toBe(0)
    expect(again.stderr).toContain('nothing to roll back')
    expect(again.stderr).not.toContain('Next:')
  })
})

describe('migrate --strict', () => {
  it('a shared bucket that does not exist: exit 0 and no plan by default, exit 1 with --strict', async () => {
    const missing = `strict-missing-${randomBytes(4).toString('hex')}`

    const lenient = await runJson<MigrateJson>(['migrate', '--execute', '--yes', '--shared-bucket', missing])
    expect(lenient.code).toBe(0)
    expect(lenient.json.status).toBe('no_such_bucket')

    const strict = await runCli(['migrate', '--execute', '--yes', '--strict', '--shared-bucket', missing])
    expect(strict.code).toBe(1)
    expect(strict.stdout).toBe('')
    expect(strict.stderr).toMatch(
      new RegExp(`^Error: .*${missing}.*does not exist.*nothing was changed\\n  Check the shared bucket name`),
    )

    // Said once, as the error: no warning of the same words before it.
    expect(strict.stderr).not.toContain('Warning:')

    // Under --json the migrate document itself fails: its status is the cause, its error says what to check.
    const strictJson = await runJson<MigrateJson>(['migrate', '--strict', '--shared-bucket', missing])
    expect(strictJson.code).toBe(1)
    expect(strictJson.json).toMatchObject({
      source_bucket: missing,
      status: 'no_such_bucket',
      mode: 'plan',
      engagements: [],
    })
    expect(strictJson.json.error).toMatchObject({code: 'no_such_bucket', exit: 1})
    expect(strictJson.json.error?.suggestion).toMatch(/Check the shared bucket name/)
    expect(await bucketExists(testS3(), missing)).toBe(false)
  })

  it('a readable shared bucket: --strict changes nothing about a plan', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'strict')
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    await putRaw(s3, shared, `auditforge/engagements/${id}/findings.json`, '{}')
    const plan = await runJson<MigrateJson>(['migrate', '--strict', '--shared-bucket', shared])
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.json.status).toBe('ok')
    expect(plan.json.engagements.map((engagement) => engagement.engagement_id)).toEqual([id])
  })
})

describe('bucket provision of an id with no record', () => {
  it('is refused with exit 3 and creates nothing; --force provisions it', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'unknown-id')
    await putIndex(s3, shared, {engagements: [seedRecord(randomEngagementId())]})
    const id = randomEngagementId()
    const bucket = expectedBucketName(id)

    const refused = await runJson<JsonError>(['bucket', 'provision', id, '--shared-bucket', shared])
    expect(refused.code).toBe(3)
    expect(refused.json.error).toMatchObject({exit: 3})
    expect(refused.json.error.message).toContain(id)
    expect(await bucketExists(s3, bucket)).toBe(false)

    const plain = await runCli(['bucket', 'provision', id, '--shared-bucket', shared])
    expect(plain.code).toBe(3)
    expect(plain.stderr).toContain('--force')
    expect(await bucketExists(s3, bucket)).toBe(false)

    const forced = await runCli(['bucket', 'provision', id, '--force', '--shared-bucket', shared])
    expect(forced.code, forced.stderr).toBe(0)
    expect(forced.stdout.trim()).toBe(bucket)
    expect(await bucketExists(s3, bucket)).toBe(true)
  })
})

describe('an endpoint that is not S3', () => {
  let server: Server
  let endpoint: string
  const requests: string[] = []

  beforeAll(async () => {
    // Some other service: every request gets 200 and a JSON body, as a wrong AWS_ENDPOINT_URL would.
    server = createServer((request, response) => {
      requests.push(`${request.method} ${request.url}`)
      response.writeHead(200, {'content-type': 'application/json'})
      response.end(JSON.stringify({status: 'ok', service: 'billing-api', version: 3}))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('is described as such, never as a corrupt index to restore, and nothing is written to it', async () => {
    const env = {AWS_ENDPOINT_URL: endpoint, AUDITFORGE_ACCOUNT_ID: '123456789012'}
    const list = await runCli(['engagement', 'list', '--shared-bucket', 'platform-shared'], {env})
    expect(list.code).toBe(1)
    expect(list.stderr).toContain(
      "Reading the engagement index s3://platform-shared/auditforge/engagements.json: the endpoint's answer is not an S3 response",
    )
    expect(list.stderr).toContain('--endpoint-url')
    expect(list.stderr).not.toMatch(/corrupt|[Rr]estore/)

    const create = await runJson<JsonError>(
      ['engagement', 'create', '--name', 'Acme', '--no-isolated', '--shared-bucket', 'platform-shared'],
      {env},
    )
    expect(create.code).toBe(1)
    expect(create.json.error.code).toBe('not_s3')
    expect(requests.some((request) => request.startsWith('GET /platform-shared/auditforge/engagements.json'))).toBe(
      true,
    )
    // (A POST / is STS asking who the caller is; no S3 write ever went out.)
    expect(requests.filter((request) => /^(PUT|DELETE) /.test(request))).toEqual([])
  })
})
