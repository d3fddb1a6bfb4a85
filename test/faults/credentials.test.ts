/**
 * Credential lookups that fail, with no other source of credentials than the one under test (an
 * empty HOME, empty AWS config files): the container credential endpoint
 * (AWS_CONTAINER_CREDENTIALS_FULL_URI, as ECS and EKS set it) fails within the bound the README
 * states and works when it answers; a named profile that is missing or whose SSO session expired
 * fails with the SDK's own reason and a suggestion that names the profile.
 */
import {createHash} from 'node:crypto'
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {createServer} from 'node:http'
import {type AddressInfo, type Socket, createServer as createNetServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {startUnacceptingListener} from '../fixtures/unaccepting-listener.js'
import {runCli, runJson} from '../helpers/cli.js'
import {putIndex, randomEngagementId, seedRecord, seedS3} from '../helpers/commands.js'
import {createSharedBucket} from '../helpers/s3.js'

let home: string
let bucket: string
const engagementId = randomEngagementId()

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'af-credentials-'))
  await writeFile(join(home, 'config'), '')
  await writeFile(join(home, 'credentials'), '')
  const s3 = seedS3()
  bucket = await createSharedBucket(s3, 'credentials')
  await putIndex(s3, bucket, {engagements: [seedRecord(engagementId)]})
})
afterAll(() => rm(home, {recursive: true, force: true}))

/** The environment of a machine whose only credentials are the container endpoint's. */
function containerOnly(fullUri: string, env: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_PROFILE: undefined,
    HOME: home,
    AWS_CONFIG_FILE: join(home, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
    AWS_CONTAINER_CREDENTIALS_FULL_URI: fullUri,
    ...env,
  }
}

describe('container credentials', () => {
  it('an endpoint whose connects never complete fails with a credentials error within 5 × the connect timeout', async () => {
    const listener = await startUnacceptingListener()
    try {
      const started = Date.now()
      const result = await runJson<{error: {code: string; exit: number; message: string; suggestion: string}}>(
        ['engagement', 'list', '--shared-bucket', bucket],
        {
          env: containerOnly(`${listener.endpoint}/v2/credentials/abc`, {AUDITFORGE_CONNECT_TIMEOUT: '1'}),
          timeout: 30_000,
        },
      )
      const elapsed = Date.now() - started
      expect(result.code).toBe(1)
      expect(result.json.error.code).toBe('no_credentials')
      expect(result.json.error.message).toBe(
        `Reading the engagement index s3://${bucket}/auditforge/engagements.json: no AWS credentials from the container credential endpoint ${listener.endpoint} (TimeoutError: @smithy/node-http-handler - the request socket did not establish a connection with the server within the configured timeout of 1000 ms.)`,
      )
      expect(result.json.error.suggestion).toMatch(
        /^AWS_CONTAINER_CREDENTIALS_FULL_URI names the ECS or EKS credential endpoint/,
      )
      // 5 × 1 s (the README's bound) plus the CLI's start-up.
      expect(elapsed).toBeLessThan(9_000)
    } finally {
      listener.close()
    }
  })

  it('an endpoint that accepts and never answers fails within one attempt bound (4 × the read timeout)', async () => {
    const sockets: Socket[] = []
    const silent = createNetServer((socket) => sockets.push(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const {port} = silent.address() as AddressInfo
    try {
      const started = Date.now()
      const result = await runJson<{error: {code: string; exit: number; message: string; suggestion: string}}>(
        ['engagement', 'list', '--shared-bucket', bucket],
        {
          env: containerOnly(`http://127.0.0.1:${port}/v2/credentials/abc`, {AUDITFORGE_READ_TIMEOUT: '1'}),
          timeout: 30_000,
        },
      )
      const elapsed = Date.now() - started
      expect(result.code).toBe(1)
      expect(result.json.error).toMatchObject({
        code: 'timeout',
        exit: 1,
        message: 'Looking up AWS credentials: no answer within 4 s (4 × AUDITFORGE_READ_TIMEOUT)',
      })
      expect(result.json.error.suggestion).toMatch(/AWS_CONTAINER_CREDENTIALS_FULL_URI/)
      expect(sockets.length).toBeGreaterThan(0)
      // 4 s plus the CLI's start-up; without the bound it waits until it is killed (30 s here).
      expect(elapsed).toBeLessThan(12_000)
    } finally {
      for (const socket of sockets) socket.destroy()
      silent.close()
    }
  })

  it('an endpoint that answers gives the credentials every call uses', async () => {
    const asked: string[] = []
    const server = createServer((request, response) => {
      asked.push(request.url ?? '')
      response.setHeader('content-type', 'application/json')
      response.end(
        JSON.stringify({
          AccessKeyId: 'ASIACONTAINER',
          SecretAccessKey: 'container-secret',
          Token: 'container-token',
          Expiration: new Date(Date.now() + 3_600_000).toISOString(),
        }),
      )
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const {port} = server.address() as {port: number}
      const result = await runJson<{engagements: {engagement_id: string}[]}>(
        ['engagement', 'list', '--shared-bucket', bucket],
        {env: containerOnly(`http://127.0.0.1:${port}/v2/credentials/abc`)},
      )
      expect(result.code, result.stderr).toBe(0)
      expect(result.json.engagements.map((record) => record.engagement_id)).toEqual([engagementId])
      expect(asked[0]).toBe('/v2/credentials/abc')
      expect(result.stderr).toBe('')
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})

/** A machine with AWS config files and nothing else: no keys, no container, no instance role. */
function filesOnly(env: Record<string, string>): Record<string, string | undefined> {
  return {
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    HOME: home,
    AWS_CONFIG_FILE: join(home, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
    // Where the chain ends otherwise: an EC2 runner's own role must not answer for the profile.
    AWS_EC2_METADATA_DISABLED: 'true',
    ...env,
  }
}

type ErrorDocument = {error: {code: string; exit: number; message: string; suggestion: string}}

describe('credential errors keep the reason', () => {
  it("AWS_PROFILE naming a profile that is not there: the SDK's reason, and the profile and files in the suggestion", async () => {
    const result = await runJson<ErrorDocument>(['engagement', 'list', '--shared-bucket', bucket], {
      env: filesOnly({AWS_PROFILE: 'nosuch'}),
    })
    expect(result.code).toBe(1)
    expect(result.json.error).toEqual({
      code: 'no_credentials',
      exit: 1,
      message: `Reading the engagement index s3://${bucket}/auditforge/engagements.json: no AWS credentials from the profile "nosuch" (Could not resolve credentials using profile: [nosuch] in configuration/credentials file(s).)`,
      suggestion: `The profile is named by AWS_PROFILE: check that "nosuch" is in ${join(home, 'config')} or ${join(home, 'credentials')} and has credentials (\`aws configure list-profiles\` lists the profiles), or name another one.`,
    })
  })

  it('--profile is named as the source of the profile', async () => {
    const result = await runCli(['engagement', 'list', '--shared-bucket', bucket, '--profile', 'other'], {
      env: filesOnly({}),
    })
    expect(result.code).toBe(1)
    expect(result.stderr.split('\n').slice(0, 2)).toEqual([
      `Error: Reading the engagement index s3://${bucket}/auditforge/engagements.json: no AWS credentials from the profile "other" (Could not resolve credentials using profile: [other] in configuration/credentials file(s).)`,
      `  The profile is named by --profile: check that "other" is in ${join(home, 'config')} or ${join(home, 'credentials')} and has credentials (\`aws configure list-profiles\` lists the profiles), or name another one.`,
    ])
  })

  it('an SSO profile whose session expired says so, and how to log in with that profile', async () => {
    const ssoHome = await mkdtemp(join(tmpdir(), 'af-sso-expired-'))
    try {
      const startUrl = 'https://auditforge-expired.awsapps.com/start'
      await mkdir(join(ssoHome, '.aws', 'sso', 'cache'), {recursive: true})
      await writeFile(
        join(ssoHome, '.aws', 'config'),
        `[profile auditor]\nsso_start_url = ${startUrl}\nsso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = Auditor\n`,
      )
      await writeFile(
        join(ssoHome, '.aws', 'sso', 'cache', `${createHash('sha1').update(startUrl).digest('hex')}.json`),
        JSON.stringify({
          accessToken: 'token',
          expiresAt: new Date(Date.now() - 60_000).toISOString(),
          region: 'us-east-1',
          startUrl,
        }),
      )
      const result = await runJson<ErrorDocument>(['engagement', 'list', '--shared-bucket', bucket], {
        env: filesOnly({HOME: ssoHome, AWS_CONFIG_FILE: join(ssoHome, '.aws', 'config'), AWS_PROFILE: 'auditor'}),
      })
      expect(result.code).toBe(1)
      expect(result.json.error.code).toBe('no_credentials')
      expect(result.json.error.message).toBe(
        `Reading the engagement index s3://${bucket}/auditforge/engagements.json: could not get AWS credentials from the profile "auditor": The SSO session associated with this profile has expired. To refresh this SSO session run aws sso login with the corresponding profile.`,
      )
      expect(result.json.error.suggestion).toBe('Run `aws sso login --profile auditor`, then run the command again.')
    } finally {
      await rm(ssoHome, {recursive: true, force: true})
    }
  })

  it('with no profile and no other source: no credentials were found, and where they could come from', async () => {
    const result = await runJson<ErrorDocument>(['engagement', 'list', '--shared-bucket', bucket], {
      env: filesOnly({AWS_PROFILE: undefined as unknown as string}),
    })
    expect(result.code).toBe(1)
    expect(result.json.error.message).toBe(
      `Reading the engagement index s3://${bucket}/auditforge/engagements.json: no AWS credentials were found`,
    )
    expect(result.json.error.suggestion).toBe(
      `Set AWS_PROFILE (a profile in ${join(home, 'config')} or ${join(home, 'credentials')}), run \`aws sso login\`, or run where a task or instance role is available.`,
    )
  })
})
