import {
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {awsS3api, bucketExists, expectedBucketName, mapLimit, randomEngagementId, seedS3} from '../helpers/commands.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

// In a file of its own so the other command tests run beside it on the second worker.
describe('bucket decommission of a large bucket', () => {
  it('empties a bucket of thousands of versions and delete markers, then removes it', async () => {
    const s3 = testS3()
    const id = randomEngagementId()
    const bucket = expectedBucketName(id)
    const shared = await createSharedBucket(s3)
    const provisioned = await runCli(['bucket', 'provision', id, '--force', '--shared-bucket', shared])
    expect(provisioned.code, provisioned.stderr).toBe(0)

    // 1200 keys, two versions each, then a delete marker on top of each: 3600 entries, so
    // several listing pages and several 1000-key DeleteObjects batches.
    const seeder = seedS3()
    const keyCount = 1200
    const keys = Array.from(
      {length: keyCount},
      (_, i) => `auditforge/engagements/${id}/source/file-${String(i).padStart(5, '0')}.txt`,
    )
    await mapLimit(keys, 16, async (key) => {
      await seeder.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: 'v1'}))
      await seeder.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: 'v2'}))
    })
    for (let start = 0; start < keys.length; start += 1000) {
      const reply = await seeder.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: {Objects: keys.slice(start, start + 1000).map((Key) => ({Key})), Quiet: true},
        }),
      )
      expect(reply.Errors ?? []).toEqual([])
    }
    // And an upload left incomplete, which would otherwise linger.
    await seeder.send(
      new CreateMultipartUploadCommand({Bucket: bucket, Key: `auditforge/engagements/${id}/source/big.bin`}),
    )
    const firstPage = await s3.send(new ListObjectVersionsCommand({Bucket: bucket}))
    expect(firstPage.IsTruncated).toBe(true)
    expect(firstPage.Versions?.length).toBeGreaterThan(0)

    const started = Date.now()
    const result = await runJson<{bucket: string; deleted: number; uploads_aborted: number}>([
      'bucket',
      'decommission',
      bucket,
      '--yes',
      '--shared-bucket',
      shared,
    ])
    const elapsed = Date.now() - started
    expect(result.code, result.stdout).toBe(0)
    expect(result.json).toEqual({
      bucket,
      deleted: 3 * keyCount,
      uploads_aborted: 1,
      trail_selector: null,
      dry_run: false,
      preflight: expect.arrayContaining([{check: 'object-lock', ok: true, detail: 'not enabled'}]),
      status: 'ok',
      error: null,
    })
    expect(elapsed).toBeLessThan(20_000)
    expect(await bucketExists(s3, bucket)).toBe(false)
    // A second witness: the aws CLI cannot find it either.
    const head = await awsS3api(['head-bucket', '--bucket', bucket])
    expect(head.code).not.toBe(0)
    expect(head.stderr).toMatch(/404|Not Found/i)
  })
})
