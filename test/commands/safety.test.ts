import {describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {
  bucketExists,
  makeManagedBucket,
  putIndex,
  randomEngagementId,
  readIndex,
  recordsOf,
  seedRecord,
} from '../helpers/commands.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

interface JsonError {
  error: {code: string; message: string; exit: number; suggestion: string | null}
}

function expectJsonError(result: {code: number | null; json: JsonError; stdout: string}, exit: number): void {
  expect(Object.keys(result.json)).toEqual(['error'])
  // The suggestion the text shows under the Error: line is in the document too (null when there is none).
  expect(Object.keys(result.json.error).sort()).toEqual(['code', 'exit', 'message', 'suggestion'])
  expect(result.json.error.suggestion === null || result.json.error.suggestion.length > 0).toBe(true)
  expect(typeof result.json.error.code).toBe('string')
  expect(result.json.error.code.length).toBeGreaterThan(0)
  expect(result.json.error.message.length).toBeGreaterThan(0)
  expect(result.json.error.exit).toBe(exit)
  expect(result.code).toBe(exit)
}

describe('--json errors', () => {
  it('print {"error": {code, message, exit, suggestion}} on stdout and exit with that code (2, 3, 5)', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const bucket = await makeManagedBucket(s3, randomEngagementId())
    await putIndex(s3, shared, {engagements: [seedRecord('eng-present')]})

    const [invalid, missing, refused, refusedDelete] = await Promise.all([
      runJson<JsonError>(['engagement', 'show', 'ENG-1', '--shared-bucket', shared]),
      runJson<JsonError>(['engagement', 'show', 'eng-absent', '--shared-bucket', shared]),
      runJson<JsonError>(['bucket', 'decommission', bucket, '--shared-bucket', shared]),
      runJson<JsonError>(['engagement', 'delete', 'eng-present', '--shared-bucket', shared]),
    ])
    expectJsonError(invalid, 2)
    expect(invalid.json.error.message).toContain('ENG-1')
    expectJsonError(missing, 3)
    expect(missing.json.error.message).toContain('eng-absent')
    expectJsonError(refused, 5)
    expectJsonError(refusedDelete, 5)

    // The refusals refused: the bucket and the record are still there.
    expect(await bucketExists(s3, bucket)).toBe(true)
    expect(recordsOf((await readIndex(s3, shared)).json).map((record) => record.engagement_id)).toEqual(['eng-present'])
  })

  it('an invalid flag value under --json is a JSON error with exit 2', async () => {
    const result = await runJson<JsonError>(['bucket', 'provision', 'eng-abc', '--tag', 'no-equals-sign'])
    expectJsonError(result, 2)
    expect(result.json.error.message).toMatch(/tag/i)
  })
})

describe('input is checked before any AWS call', () => {
  it('bad ids and bucket names are exit 2 even with the endpoint unreachable', async () => {
    // Port 9 (discard) on loopback: nothing answers, so any AWS call would fail with exit 1.
    const env = {AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AUDITFORGE_BUCKET: 'some-shared-bucket'}
    const results = await Promise.all([
      runCli(['engagement', 'delete', 'ENG-1', '--yes'], {env}),
      runCli(['bucket', 'provision', 'eng-'], {env}),
      runCli(['bucket', 'decommission', 'Bad_Name', '--yes'], {env}),
    ])
    for (const result of results) {
      expect(result.code, result.stderr).toBe(2)
      expect(result.stdout).toBe('')
      expect(result.stderr).not.toMatch(/reach|ECONNREFUSED/)
    }
  })

  it('an unreachable endpoint is exit 1 with a message naming the action and bucket', async () => {
    const result = await runCli(['engagement', 'list', '--shared-bucket', 'some-shared-bucket'], {
      env: {AWS_ENDPOINT_URL: 'http://127.0.0.1:9'},
      timeout: 50_000,
    })
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/some-shared-bucket/)
  })
})

describe('stdout carries only data', () => {
  it('create prints its progress on stderr and only the record (table) on stdout', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const created = await runCli(['engagement', 'create', '--name', 'Quiet stdout', '--shared-bucket', shared])
    expect(created.code, created.stderr).toBe(0)
    const id = recordsOf((await readIndex(s3, shared)).json)[0].engagement_id
    expect(created.stdout).toContain(id)
    expect(created.stdout).toContain('Quiet stdout')
    expect(created.stdout).not.toMatch(/Creating|Writing|\u001b\[/)
  })

  it('a flag oclif rejects is one line that says why, with exit 2', async () => {
    const result = await runCli(['migrate', '--concurrency', '0', '--shared-bucket', 'any-bucket'])
    expect(result.code).toBe(2)
    const [first] = result.stderr.split('\n')
    expect(first).toBe('Error: Parsing --concurrency: Expected an integer greater than or equal to 1 but received: 0')
  })
})
