/**
 * Credentials from the container credential endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI, as ECS
 * and EKS set it), with no other source of credentials: an empty HOME and empty AWS config files.
 * An endpoint whose connects never complete fails the command with a credentials error within the
 * bound the README states; an endpoint that answers works like the task role does.
 */
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {createServer} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {startUnacceptingListener} from '../fixtures/unaccepting-listener.js'
import {runJson} from '../helpers/cli.js'
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
      const result = await runJson<{error: {code: string; exit: number}}>(
        ['engagement', 'list', '--shared-bucket', bucket],
        {
          env: containerOnly(`${listener.endpoint}/v2/credentials/abc`, {AUDITFORGE_CONNECT_TIMEOUT: '1'}),
          timeout: 30_000,
        },
      )
      const elapsed = Date.now() - started
      expect(result.code).toBe(1)
      expect(result.json.error.code).toBe('no_credentials')
      // 5 × 1 s (the README's bound) plus the CLI's start-up.
      expect(elapsed).toBeLessThan(9_000)
    } finally {
      listener.close()
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
