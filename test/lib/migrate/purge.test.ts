/**
 * The purge library on moto, where a command run cannot stage the moment: a deletion that fails
 * half way (the record says so, the shared bucket's current objects are untouched, a re-run
 * finishes), a version written while the purge deletes (left and reported, never deleted), a
 * late write between the listing and the verification that follows it (nothing deleted), and
 * what a rollback would hide, judged by evidence or by exact single-part ETags. Plus the
 * duration parser.
 */
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {AuditforgeError} from '../../../src/lib/errors.js'
import {
  executeMigration,
  inspectPurge,
  parseDuration,
  planMigration,
  purgeSource,
  rollbackMigration,
  rollbackRisk,
} from '../../../src/lib/migrate/index.js'
import {
  expectedBucketName,
  makeManagedBucket,
  putIndex,
  randomEngagementId,
  seedRecord,
} from '../../helpers/commands.js'
import {beforeCall, motoContext} from '../../helpers/library.js'
import {createSharedBucket, testS3} from '../../helpers/s3.js'

describe('parseDuration', () => {
  it('reads days, hours, minutes, seconds and a bare 0', () => {
    expect(parseDuration('30d')).toBe(30 * 86_400_000)
    expect(parseDuration('12h')).toBe(12 * 3_600_000)
    expect(parseDuration('90m')).toBe(90 * 60_000)
    expect(parseDuration('45s')).toBe(45_000)
    expect(parseDuration('0')).toBe(0)
    expect(parseDuration('0d')).toBe(0)
  })

  it('refuses anything else as invalid input (exit 2), naming the flag', () => {
    for (const text of ['30', '1.5d', '-1d', '2w', '30 d', 'd', '', '30D', '1e3d', '9999999999d']) {
      expect(() => parseDuration(text), text).toThrow(AuditforgeError)
      expect(() => parseDuration(text)).toThrow(/^Invalid --min-age /)
      try {
        parseDuration(text)
      } catch (error) {
        expect((error as AuditforgeError).exit).toBe(2)
      }
    }
  })
})

const key = (id: string, name: string) => `auditforge/engagements/${id}/${name}`
const put = (s3: S3Client, bucket: string, name: string, body: string) =>
  s3.send(new PutObjectCommand({Bucket: bucket, Key: name, Body: body}))
const options = {minAge: '0', minAgeMs: 0}

/** A shared bucket with one engagement (history included), migrated with the library. */
async function migrated() {
  const s3 = testS3()
  const shared = await createSharedBucket(s3, 'purge-lib')
  const id = randomEngagementId()
  await putIndex(s3, shared, {engagements: [seedRecord(id)]})
  for (const name of ['findings.json', 'source/a.pdf', 'source/b.pdf'])
    await put(s3, shared, key(id, name), `${name} v1`)
  await put(s3, shared, key(id, 'source/a.pdf'), 'a v2')
  await put(s3, shared, key(id, 'source/b.pdf'), 'b v2')
  const context = motoContext(shared)
  const plan = await planMigration(context, shared, {engagementId: id})
  const [outcome] = await executeMigration(context, plan)
  expect(outcome.status).toBe('migrated')
  return {s3, shared, id, target: expectedBucketName(id)}
}

async function versionsOf(s3: S3Client, bucket: string, prefix: string): Promise<{key: string; latest: boolean}[]> {
  const page = await s3.send(new ListObjectVersionsCommand({Bucket: bucket, Prefix: prefix}))
  return [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((version) => ({
    key: version.Key!,
    latest: version.IsLatest === true,
  }))
}

async function readJson(s3: S3Client, bucket: string, name: string): Promise<unknown> {
  return JSON.parse(await (await s3.send(new GetObjectCommand({Bucket: bucket, Key: name}))).Body!.transformToString())
}

describe('purgeSource on moto', () => {
  it('interrupted in the deletion of current versions: recorded as incomplete, the history gone, the current objects intact; a re-run finishes it', async () => {
    const {s3, shared, id, target} = await migrated()
    const failing = testS3()
    // The first DeleteObjects (history) goes through; the second (current versions) fails.
    beforeCall(failing, 'DeleteObjectsCommand', 2, async () => {
      throw Object.assign(new Error('connection reset by the test'), {code: 'ECONNRESET'})
    })
    const context = motoContext(shared, failing)
    const inspection = await inspectPurge(context, shared, id, options)
    expect(inspection.status).toBe('would_purge')
    const failed = await purgeSource(context, inspection, options).catch((error: unknown) => error)
    expect(failed).toBeInstanceOf(AuditforgeError)
    expect((failed as AuditforgeError).message).toMatch(/the purge is recorded as incomplete$/)
    expect((failed as AuditforgeError).suggestion).toContain('purge-source')

    // Only the current versions are left: the verification of a re-run still holds.
    const left = await versionsOf(s3, shared, `auditforge/engagements/${id}/`)
    expect(left.map((version) => version.key).sort()).toEqual(
      ['findings.json', 'source/a.pdf', 'source/b.pdf'].map((name) => key(id, name)),
    )
    expect(left.every((version) => version.latest)).toBe(true)
    const first = (await versionsOf(s3, target, `auditforge/migrations/${id}/purges/`)).find((version) =>
      version.key.endsWith('purge.json'),
    )!
    expect(await readJson(s3, target, first.key)).toMatchObject({
      status: 'incomplete',
      completed_at: null,
      intent: {versions: 5},
    })

    // Rollback is already refused: the history is gone from the shared bucket.
    await expect(rollbackMigration(motoContext(shared), shared, id)).rejects.toMatchObject({
      exit: 5,
      code: 'source_purged',
      message: expect.stringContaining('not completed'),
    })

    const again = await inspectPurge(motoContext(shared), shared, id, options)
    expect(again).toMatchObject({
      status: 'would_purge',
      verification: {result: 'passed'},
      removal: {versions: 3, delete_markers: 0},
    })
    expect(again.unfinished_purges).toHaveLength(1)
    const done = await purgeSource(motoContext(shared), again, options)
    expect(done).toMatchObject({removed: {versions: 3}, left: {versions: 0}, resumes: again.unfinished_purges})
    expect(await versionsOf(s3, shared, `auditforge/engagements/${id}/`)).toEqual([])
    expect(await readJson(s3, target, done.evidence_key)).toMatchObject({
      status: 'completed',
      resumes: again.unfinished_purges,
    })
  })

  it('leaves and reports a version written to the shared bucket while it deletes', async () => {
    const {s3, shared, id, target} = await migrated()
    const racing = testS3()
    beforeCall(racing, 'DeleteObjectsCommand', 1, async () => {
      await put(s3, shared, key(id, 'source/a.pdf'), 'a v3, written during the purge')
    })
    const context = motoContext(shared, racing)
    const outcome = await purgeSource(context, await inspectPurge(context, shared, id, options), options)
    expect(outcome.left).toEqual({versions: 1, first_keys: [key(id, 'source/a.pdf')]})
    const [survivor] = await versionsOf(s3, shared, `auditforge/engagements/${id}/`)
    expect(survivor).toEqual({key: key(id, 'source/a.pdf'), latest: true})
    expect(
      await (await s3.send(new GetObjectCommand({Bucket: shared, Key: survivor.key}))).Body!.transformToString(),
    ).toBe('a v3, written during the purge')
    expect(await readJson(s3, target, outcome.evidence_key)).toMatchObject({status: 'completed', left: {versions: 1}})
  })

  it('deletes nothing when a late write lands between its listing and the verification after it', async () => {
    const {s3, shared, id, target} = await migrated()
    const racing = testS3()
    const context = motoContext(shared, racing)
    const inspection = await inspectPurge(context, shared, id, options)
    // The purge's first write is its intent, after the listing and before the verification.
    beforeCall(racing, 'PutObjectCommand', 1, async () => {
      await put(s3, shared, key(id, 'source/c.pdf'), 'late')
    })
    // The refusal carries the verification that stopped it, for the command's --json document.
    await expect(purgeSource(context, inspection, options)).rejects.toMatchObject({
      exit: 4,
      code: 'verification_failed',
      verification: {result: 'failed', late_writes: 1},
    })
    expect(await versionsOf(s3, shared, `auditforge/engagements/${id}/`)).toHaveLength(6)
    const record = (await versionsOf(s3, target, `auditforge/migrations/${id}/purges/`)).find((version) =>
      version.key.endsWith('purge.json'),
    )!
    expect(await readJson(s3, target, record.key)).toMatchObject({
      status: 'aborted',
      verification: {result: 'failed', late_writes: 1},
    })
    // An aborted purge deleted nothing: rollback is still possible.
    await expect(rollbackMigration(motoContext(shared), shared, id)).resolves.toMatchObject({source_bucket: ''})
  })
})

async function putMultipart(s3: S3Client, bucket: string, name: string, body: string): Promise<void> {
  const {UploadId} = await s3.send(new CreateMultipartUploadCommand({Bucket: bucket, Key: name}))
  const {ETag} = await s3.send(new UploadPartCommand({Bucket: bucket, Key: name, UploadId, PartNumber: 1, Body: body}))
  await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: name,
      UploadId,
      MultipartUpload: {Parts: [{ETag, PartNumber: 1}]},
    }),
  )
}

describe('rollbackRisk', () => {
  it('with evidence: keys written since the migration, overwritten, or gone from the shared bucket are at risk', async () => {
    const {s3, shared, id, target} = await migrated()
    await put(s3, target, key(id, 'source/new.pdf'), 'written in the engagement bucket')
    await put(s3, target, key(id, 'source/a.pdf'), 'a, edited in the app')
    await s3.send(new DeleteObjectCommand({Bucket: shared, Key: key(id, 'source/b.pdf')}))
    const record = seedRecord(id, {source_bucket: target}) as never
    expect(await rollbackRisk(motoContext(shared), shared, record)).toEqual(
      ['source/a.pdf', 'source/b.pdf', 'source/new.pdf'].map((name) => key(id, name)),
    )
  })

  it('without evidence: only equal single-part MD5 ETags are safe; a same-size multipart object is at risk', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'risk')
    const id = randomEngagementId()
    const target = await makeManagedBucket(s3, id, shared)
    await put(s3, shared, key(id, 'same.txt'), 'same bytes')
    await put(s3, target, key(id, 'same.txt'), 'same bytes')
    await put(s3, shared, key(id, 'edited.txt'), 'version one')
    await put(s3, target, key(id, 'edited.txt'), 'version two')
    await putMultipart(s3, shared, key(id, 'multipart.bin'), 'older bytes')
    await putMultipart(s3, target, key(id, 'multipart.bin'), 'newer bytes')
    // Even the same bytes: a multipart ETag is not an MD5 of the content, so nothing is proven.
    await putMultipart(s3, shared, key(id, 'multipart-same.bin'), 'same bytes')
    await putMultipart(s3, target, key(id, 'multipart-same.bin'), 'same bytes')
    await put(s3, target, key(id, 'only-here.txt'), 'new')
    const record = seedRecord(id, {source_bucket: target}) as never
    expect(await rollbackRisk(motoContext(shared), shared, record)).toEqual(
      ['edited.txt', 'multipart-same.bin', 'multipart.bin', 'only-here.txt'].map((name) => key(id, name)),
    )
  })
})
