import {DeleteObjectCommand, GetBucketTaggingCommand, PutBucketTaggingCommand, type S3Client} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {
  bucketExists,
  countByKey,
  expectedBucketName,
  listAllVersions,
  makeManagedBucket,
  putIndex,
  putRaw,
  randomEngagementId,
  readIndex,
  recordsOf,
  seedRecord,
} from '../helpers/commands.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

interface DeleteResult {
  engagement_id: string
  source_bucket: string
  shared_objects_deleted: number
  bucket: 'kept' | 'decommissioned' | 'cleanup_failed' | 'left_in_place' | 'gone' | null
  bucket_name: string | null
  bucket_objects_deleted: number
  cleanup_error?: string | null
  retry_command?: string | null
}

/** Every kind of key an engagement owns in the shared bucket (DESIGN.md, "Storage layout"). */
function ownKeys(id: string): string[] {
  return [
    `auditforge/engagements/${id}/findings.json`,
    `auditforge/engagements/${id}/audit_log/shard-00000.jsonl`,
    `auditforge/engagements/${id}/audit_log/shard-00001.jsonl`,
    `auditforge/engagements/${id}/source/workpaper.pdf`,
    `auditforge/engagements/${id}/index/chunks/0001.json`,
    `auditforge/deliverables/${id}.json`,
    `auditforge/deliverables/${id}.docx`,
    `auditforge/deliverables/${id}-methodology.md`,
    `auditforge/exports/${id}-20250102T030405Z.jsonl`,
    `auditforge/audit_logs/${id}/shard-00000.jsonl`,
  ]
}

/** Keys nobody's engagement owns: firm branding, the tenant corpus, look-alikes. */
const othersKeys = [
  'auditforge/firms.json',
  'acme/index/eng-abc/chunk-1.json',
  'acme/index/manifest.json',
  'auditforge/deliverables/eng-abc-notes.md',
]

/**
 * Seeds eng-abc and eng-abcd (whose id extends eng-abc) with several versions of findings,
 * a deleted key (a delete marker over a version), and every other key kind.
 */
async function seedSharedData(s3: S3Client, shared: string): Promise<void> {
  await putIndex(s3, shared, {engagements: [seedRecord('eng-abc'), seedRecord('eng-abcd')]})
  const writes: Promise<unknown>[] = []
  for (const id of ['eng-abc', 'eng-abcd']) {
    for (const key of ownKeys(id)) writes.push(putRaw(s3, shared, key, `${key} v1`))
  }
  for (const key of othersKeys) writes.push(putRaw(s3, shared, key, `${key}`))
  await Promise.all(writes)
  for (const id of ['eng-abc', 'eng-abcd']) {
    for (const version of [2, 3])
      await putRaw(s3, shared, `auditforge/engagements/${id}/findings.json`, `{"v": ${version}}`)
    await putRaw(s3, shared, `auditforge/deliverables/${id}.json`, '{"v": 2}')
    await s3.send(new DeleteObjectCommand({Bucket: shared, Key: `auditforge/engagements/${id}/source/workpaper.pdf`}))
  }
}

describe('engagement delete', () => {
  it('refuses without --yes when there is no TTY (exit 5) and changes nothing', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    await seedSharedData(s3, shared)
    const indexBefore = await readIndex(s3, shared)
    const versionsBefore = await listAllVersions(s3, shared)

    const result = await runCli(['engagement', 'delete', 'eng-abc', '--shared-bucket', shared])
    expect(result.code).toBe(5)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/--yes/)

    const indexAfter = await readIndex(s3, shared)
    expect(indexAfter.text).toBe(indexBefore.text)
    expect(indexAfter.versionId).toBe(indexBefore.versionId)
    expect(await listAllVersions(s3, shared)).toEqual(versionsBefore)
  })

  it("deletes every version of its own keys and nobody else's (eng-abc vs eng-abcd)", async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    await seedSharedData(s3, shared)
    const before = countByKey(await listAllVersions(s3, shared))
    // Sanity: several versions and the delete marker are really there to be deleted.
    expect(before['auditforge/engagements/eng-abc/findings.json']).toBe(3)
    expect(before['auditforge/engagements/eng-abc/source/workpaper.pdf']).toBe(2)
    const ownVersions = ownKeys('eng-abc').reduce((sum, key) => sum + before[key], 0)

    const result = await runJson<DeleteResult>(['engagement', 'delete', 'eng-abc', '--yes', '--shared-bucket', shared])
    expect(result.code, result.stderr).toBe(0)
    expect(result.json).toMatchObject({
      engagement_id: 'eng-abc',
      source_bucket: '',
      bucket: null,
      shared_objects_deleted: ownVersions,
    })

    const after = await listAllVersions(s3, shared)
    const ownLeft = after.filter((version) => ownKeys('eng-abc').includes(version.key))
    expect(ownLeft).toEqual([])
    expect(
      after.filter((version) => /eng-abc[./-]|eng-abc$/.test(version.key) && !othersKeys.includes(version.key)),
    ).toEqual([])

    // Everything else is untouched, version for version.
    const afterCounts = countByKey(after)
    for (const key of [...ownKeys('eng-abcd'), ...othersKeys]) expect(afterCounts[key], key).toBe(before[key])

    const records = recordsOf((await readIndex(s3, shared)).json)
    expect(records.map((record) => record.engagement_id)).toEqual(['eng-abcd'])
  })

  it('--keep-data removes only the record', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    await seedSharedData(s3, shared)
    const before = countByKey(await listAllVersions(s3, shared))

    const result = await runJson<DeleteResult>([
      'engagement',
      'delete',
      'eng-abc',
      '--yes',
      '--keep-data',
      '--shared-bucket',
      shared,
    ])
    expect(result.code, result.stderr).toBe(0)
    expect(result.json.shared_objects_deleted).toBe(0)

    const after = countByKey(await listAllVersions(s3, shared))
    delete before['auditforge/engagements.json']
    delete after['auditforge/engagements.json']
    expect(after).toEqual(before)
    expect(recordsOf((await readIndex(s3, shared)).json).map((record) => record.engagement_id)).toEqual(['eng-abcd'])
  })

  it('an unknown engagement is exit 3 and a bad id exit 2', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    await putIndex(s3, shared, {engagements: [seedRecord('eng-abc')]})
    const [unknown, bad] = await Promise.all([
      runCli(['engagement', 'delete', 'eng-nothere', '--yes', '--shared-bucket', shared]),
      runCli(['engagement', 'delete', '../eng-abc', '--yes', '--shared-bucket', shared]),
    ])
    expect(unknown.code).toBe(3)
    expect(bad.code).toBe(2)
    expect(bad.stdout).toBe('')
    expect(recordsOf((await readIndex(s3, shared)).json)).toHaveLength(1)
  })

  it("decommissions an isolated engagement's bucket", async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const created = await runJson<{engagement_id: string; source_bucket: string}>([
      'engagement',
      'create',
      '--name',
      'Isolated',
      '--isolated',
      '--shared-bucket',
      shared,
    ])
    expect(created.code, created.stderr).toBe(0)
    const {engagement_id: id, source_bucket: bucket} = created.json
    expect(bucket).toBe(expectedBucketName(id))
    for (const version of [1, 2])
      await putRaw(s3, bucket, `auditforge/engagements/${id}/findings.json`, `{"v": ${version}}`)
    await s3.send(new DeleteObjectCommand({Bucket: bucket, Key: `auditforge/engagements/${id}/findings.json`}))

    const result = await runJson<DeleteResult>(['engagement', 'delete', id, '--yes', '--shared-bucket', shared])
    expect(result.code, result.stderr).toBe(0)
    expect(result.json).toMatchObject({engagement_id: id, source_bucket: bucket, bucket: 'decommissioned'})
    // Two findings versions, one delete marker and the audit-log shard.
    expect(result.json.bucket_objects_deleted).toBe(4)
    expect(await bucketExists(s3, bucket)).toBe(false)
    expect(recordsOf((await readIndex(s3, shared)).json)).toEqual([])
  })

  it("--keep-data keeps an isolated engagement's bucket and its objects", async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const id = randomEngagementId()
    const bucket = await makeManagedBucket(s3, id)
    await putIndex(s3, shared, {engagements: [seedRecord(id, {source_bucket: bucket})]})
    await putRaw(s3, bucket, `auditforge/engagements/${id}/findings.json`, '{}')
    const before = await listAllVersions(s3, bucket)

    const result = await runJson<DeleteResult>([
      'engagement',
      'delete',
      id,
      '--yes',
      '--keep-data',
      '--shared-bucket',
      shared,
    ])
    expect(result.code, result.stderr).toBe(0)
    expect(result.json.bucket).toBe('kept')
    expect(await listAllVersions(s3, bucket)).toEqual(before)
    expect(recordsOf((await readIndex(s3, shared)).json)).toEqual([])
  })

  it('a bucket that is already gone is nothing to clean up: bucket "gone", no error, no retry command', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const [id, other] = [randomEngagementId(), randomEngagementId()]
    // The record names its bucket, which no longer exists (deleted by hand, or in another run).
    const gone = expectedBucketName(id)
    await putIndex(s3, shared, {
      engagements: [
        seedRecord(id, {source_bucket: gone}),
        seedRecord(other, {source_bucket: expectedBucketName(other)}),
      ],
    })

    const [json, text] = await Promise.all([
      runJson<DeleteResult>(['engagement', 'delete', id, '--yes', '--shared-bucket', shared]),
      runCli(['engagement', 'delete', other, '--yes', '--shared-bucket', shared]),
    ])
    expect(json.code, json.stderr).toBe(0)
    expect(json.json).toMatchObject({
      engagement_id: id,
      source_bucket: gone,
      bucket_name: gone,
      bucket: 'gone',
      bucket_objects_deleted: 0,
      cleanup_error: null,
      retry_command: null,
    })
    expect(text.code, text.stderr).toBe(0)
    expect(text.stderr).toContain(`Its bucket ${expectedBucketName(other)} no longer exists; nothing to clean up.`)
    expect(text.stderr).not.toContain('bucket decommission')
    expect(text.stderr).not.toContain('Warning')
    expect(recordsOf((await readIndex(s3, shared)).json)).toEqual([])
  })

  it('still deletes the record when decommissioning fails, and says how to retry', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const [first, second] = await Promise.all(
      [randomEngagementId(), randomEngagementId()].map(async (id) => ({
        engagement_id: id,
        source_bucket: await makeManagedBucket(s3, id),
      })),
    )
    await putIndex(s3, shared, {engagements: [first, second].map((record) => seedRecord(record.engagement_id, record))})
    // Without the managed-by tag, auditforge refuses to remove the bucket.
    for (const {engagement_id: id, source_bucket: bucket} of [first, second]) {
      await s3.send(
        new PutBucketTaggingCommand({
          Bucket: bucket,
          Tagging: {TagSet: [{Key: 'auditforge:engagement-id', Value: id}]},
        }),
      )
    }

    const [json, text] = await Promise.all([
      runJson<DeleteResult>(['engagement', 'delete', first.engagement_id, '--yes', '--shared-bucket', shared]),
      runCli(['engagement', 'delete', second.engagement_id, '--yes', '--shared-bucket', shared]),
    ])
    expect(json.code, json.stderr).toBe(0)
    expect(json.json.bucket).toBe('cleanup_failed')
    expect(json.json.cleanup_error).toMatch(/managed-by/)
    expect(json.json.retry_command).toBe(`auditforge bucket decommission ${first.source_bucket} --yes`)
    expect(await bucketExists(s3, first.source_bucket)).toBe(true)

    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toBe('')
    expect(text.stderr).toContain(`auditforge bucket decommission ${second.source_bucket} --yes`)
    expect(await bucketExists(s3, second.source_bucket)).toBe(true)

    expect(recordsOf((await readIndex(s3, shared)).json)).toEqual([])
    // The buckets were left alone: the tag set is as the test left it.
    const tags = await s3.send(new GetBucketTaggingCommand({Bucket: first.source_bucket}))
    expect(tags.TagSet).toEqual([{Key: 'auditforge:engagement-id', Value: first.engagement_id}])
  })
})
