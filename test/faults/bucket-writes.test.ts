/**
 * `bucket provision` and `bucket decommission` under injected faults: throttling and 500s on
 * the control writes and deletes are absorbed; an answer lost after CreateBucket, a tagging write
 * or a DeleteObjects/DeleteBucket landed does not fail or half-do the command; a half-open write
 * fails in bounded time with one `Error:` line (exit 1), and a plain re-run straight to moto
 * completes exactly. State is read with the SDK straight from moto.
 */
import {describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {
  bucketExists,
  expectedBucketName,
  listAllVersions,
  makeManagedBucket,
  putIndex,
  putRaw,
  randomEngagementId,
  seedRecord,
} from '../helpers/commands.js'
import {bounded, bucketPath, expectFullyProvisioned, expectOneErrorLine, useFaultProxy} from '../helpers/faults.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

const s3 = testS3()
const proxied = useFaultProxy()
const {faulted} = proxied

/** A shared bucket whose index has a record of a fresh engagement (not yet provisioned). */
async function recorded(stem: string): Promise<{shared: string; id: string; bucket: string}> {
  const shared = await createSharedBucket(s3, stem)
  const id = randomEngagementId()
  await putIndex(s3, shared, {engagements: [seedRecord(id)]})
  return {shared, id, bucket: expectedBucketName(id)}
}

describe('bucket provision under faults', () => {
  it.each([
    ['SlowDown on every 2nd write to the bucket', {mode: 'slowdown', every: 2} as const],
    ['500s at a seeded rate on the writes to the bucket', {mode: 'internal-error', rate: 0.5, seed: 2} as const],
  ])('%s is absorbed: every control and the binding', async (_, faults) => {
    const {shared, id, bucket} = await recorded('fp-retry')
    const result = await proxied.run(['bucket', 'provision', id, '--shared-bucket', shared], {
      ...faults,
      match: {method: 'PUT', path: bucketPath(bucket)},
    })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.trim()).toBe(bucket)
    expect(faulted().length).toBeGreaterThanOrEqual(1)
    await expectFullyProvisioned(s3, bucket, id, shared)
  })

  it.each([
    ['CreateBucket', (request: {method: string; query: string}) => request.method === 'PUT' && request.query === ''],
    [
      'the tagging write',
      (request: {method: string; query: string}) =>
        request.method === 'PUT' && new URLSearchParams(request.query).has('tagging'),
    ],
  ])('the answer to %s is lost after it landed: provisioned exactly', async (_, which) => {
    const {shared, id, bucket} = await recorded('fp-lost')
    const result = await proxied.run(['bucket', 'provision', id, '--shared-bucket', shared], {
      mode: 'reset',
      resetIn: 'head',
      limit: 1,
      match: (request) => bucketPath(bucket).test(request.path) && which(request),
    })
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.trim()).toBe(bucket)
    expect(faulted()).toHaveLength(1)
    await expectFullyProvisioned(s3, bucket, id, shared)
  })

  it('a half-open tagging write fails with one line in bounded time; a re-run binds and completes', async () => {
    const {shared, id, bucket} = await recorded('fp-hole')
    const started = Date.now()
    const result = await proxied.run(
      ['bucket', 'provision', id, '--shared-bucket', shared],
      {mode: 'blackhole', match: {method: 'PUT', path: bucketPath(bucket), query: 'tagging'}},
      bounded,
    )
    expect(Date.now() - started).toBeLessThan(15_000)
    expect(expectOneErrorLine(result)).toMatch(
      new RegExp(`^Error: .*s3://${bucket}.*: no answer from .* within 1 s \\(timed out\\)$`),
    )

    const rerun = await runCli(['bucket', 'provision', id, '--shared-bucket', shared])
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(rerun.stdout.trim()).toBe(bucket)
    await expectFullyProvisioned(s3, bucket, id, shared)
  })
})

/** A bound, auditforge-managed bucket with several versions and a delete marker, no record pointing at it. */
async function filledBucket(stem: string): Promise<{shared: string; bucket: string}> {
  const shared = await createSharedBucket(s3, stem)
  const id = randomEngagementId()
  await putIndex(s3, shared, {engagements: [seedRecord(randomEngagementId())]})
  const bucket = await makeManagedBucket(s3, id, shared)
  for (let i = 0; i < 6; i++) {
    await putRaw(s3, bucket, `auditforge/engagements/${id}/source/doc-${i}.txt`, `doc ${i}`)
    await putRaw(s3, bucket, `auditforge/engagements/${id}/source/doc-${i}.txt`, `doc ${i} v2`)
  }
  expect((await listAllVersions(s3, bucket)).length).toBe(12)
  return {shared, bucket}
}

const deleteObjects = (bucket: string) => ({method: 'POST', path: bucketPath(bucket), query: 'delete'})
const deleteBucket = (bucket: string) => ({method: 'DELETE', path: bucketPath(bucket)})

describe('bucket decommission under faults', () => {
  it.each([
    ['SlowDown on every 2nd delete', {mode: 'slowdown', every: 2} as const],
    ['500s at a seeded rate on the deletes', {mode: 'internal-error', rate: 0.5, seed: 9} as const],
  ])('%s is absorbed: the bucket is gone', async (_, faults) => {
    const {shared, bucket} = await filledBucket('fx-retry')
    const result = await proxied.run(['bucket', 'decommission', bucket, '--yes', '--shared-bucket', shared], {
      ...faults,
      match: (request) =>
        bucketPath(bucket).test(request.path) &&
        (request.method === 'DELETE' ||
          (request.method === 'POST' && new URLSearchParams(request.query).has('delete'))),
    })
    expect(result.code, result.stderr).toBe(0)
    expect(faulted().length).toBeGreaterThanOrEqual(1)
    expect(await bucketExists(s3, bucket)).toBe(false)
  })

  it('the answers to DeleteObjects and DeleteBucket are lost after they landed: done, exit 0', async () => {
    const {shared, bucket} = await filledBucket('fx-lost')
    let lost = {objects: false, bucket: false}
    proxied.proxy.set({
      mode: 'reset',
      resetIn: 'head',
      match: (request) => {
        if (!bucketPath(bucket).test(request.path)) return false
        if (request.method === 'POST' && !lost.objects) return ((lost = {...lost, objects: true}), true)
        if (request.method === 'DELETE' && !lost.bucket) return ((lost = {...lost, bucket: true}), true)
        return false
      },
    })
    const result = await runCli(['bucket', 'decommission', bucket, '--yes', '--shared-bucket', shared], {
      env: {AWS_ENDPOINT_URL: proxied.proxy.endpoint},
    })
    expect(faulted().map((entry) => entry.method)).toEqual(['POST', 'DELETE'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).not.toMatch(/^(Error|Warning):/m)
    expect(await bucketExists(s3, bucket)).toBe(false)
  })

  it.each([
    ['DeleteObjects', deleteObjects],
    ['DeleteBucket', deleteBucket],
  ])('a half-open %s fails with one line in bounded time; a re-run removes the bucket', async (name, match) => {
    const {shared, bucket} = await filledBucket('fx-hole')
    const started = Date.now()
    const result = await proxied.run(
      ['bucket', 'decommission', bucket, '--yes', '--shared-bucket', shared],
      {mode: 'blackhole', match: match(bucket)},
      bounded,
    )
    expect(Date.now() - started).toBeLessThan(15_000)
    expect(expectOneErrorLine(result)).toMatch(
      new RegExp(`^Error: .*s3://${bucket}: no answer from .* within 1 s \\(timed out\\)$`),
    )
    expect(await bucketExists(s3, bucket), name).toBe(true)

    const rerun = await runCli(['bucket', 'decommission', bucket, '--yes', '--shared-bucket', shared])
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(await bucketExists(s3, bucket)).toBe(false)
  })
})
