/**
 * `migrate purge-source` (library, on moto) at the moments that could make it delete what was
 * never migrated or leave it stuck: an unversioned shared bucket, a purge finished by a re-run,
 * versions written after the switch, a run interrupted after the switch, and keys proven by MD5
 * that the application rewrites afterwards.
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {
  executeMigration,
  inspectPurge,
  planMigration,
  purgeSource,
  reconcileMigration,
  verifyMigrations,
} from '../../../src/lib/migrate/index.js'
import {EngagementIndex} from '../../../src/lib/engagement-index.js'
import {expectedBucketName, putIndex, randomEngagementId, seedRecord} from '../../helpers/commands.js'
import {beforeCall, motoContext} from '../../helpers/library.js'
import {createSharedBucket, testS3, uniqueName} from '../../helpers/s3.js'

const key = (id: string, name: string) => `auditforge/engagements/${id}/${name}`
const put = (s3: S3Client, bucket: string, name: string, body: string) =>
  s3.send(new PutObjectCommand({Bucket: bucket, Key: name, Body: body}))
const read = async (s3: S3Client, bucket: string, name: string) =>
  (await s3.send(new GetObjectCommand({Bucket: bucket, Key: name}))).Body!.transformToString()
const options = {minAge: '0', minAgeMs: 0}

async function versionsOf(s3: S3Client, bucket: string, prefix: string) {
  const page = await s3.send(new ListObjectVersionsCommand({Bucket: bucket, Prefix: prefix}))
  return [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].map((version) => ({
    key: version.Key!,
    versionId: version.VersionId!,
    latest: version.IsLatest === true,
  }))
}

async function migrate(s3: S3Client, shared: string, id: string) {
  const context = motoContext(shared)
  const [outcome] = await executeMigration(context, await planMigration(context, shared, {engagementId: id}))
  expect(outcome.status).toBe('migrated')
  return expectedBucketName(id)
}

describe('purge-source deletes only what was migrated', () => {
  // In an unversioned bucket every version id is "null" and deleting it deletes whatever is
  // there now, a write made after the verification included: refused before anything is listed.
  it('refuses an unversioned shared bucket (exit 5), touching nothing', async () => {
    const s3 = testS3()
    const shared = uniqueName('purge-unversioned')
    await s3.send(new CreateBucketCommand({Bucket: shared}))
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    for (const name of ['findings.json', 'source/a.pdf']) await put(s3, shared, key(id, name), `${name} v1`)
    await migrate(s3, shared, id)

    const context = motoContext(shared)
    const inspection = await inspectPurge(context, shared, id, options)
    expect(inspection.status).toBe('refused')
    expect(inspection.refusal).toMatchObject({code: 'unversioned_source', exit: 5})
    await expect(purgeSource(context, inspection, options)).rejects.toThrow(/versioning off/)
    expect(await read(s3, shared, key(id, 'source/a.pdf'))).toBe('source/a.pdf v1')
  })

  // A re-run with nothing left is a no-op: an interrupted purge that a later one resumed and
  // completed is finished, not pending forever.
  it('after a re-run finished an interrupted purge, the next run is a no-op (nothing_to_purge)', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'purge-resume')
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    for (const name of ['findings.json', 'source/a.pdf']) await put(s3, shared, key(id, name), `${name} v1`)
    await put(s3, shared, key(id, 'source/a.pdf'), 'a v2')
    await migrate(s3, shared, id)

    const failing = testS3()
    beforeCall(failing, 'DeleteObjectsCommand', 2, async () => {
      throw Object.assign(new Error('connection reset by the review'), {code: 'ECONNRESET'})
    })
    const broken = motoContext(shared, failing)
    await purgeSource(broken, await inspectPurge(broken, shared, id, options), options).catch(() => undefined)
    const resumed = await inspectPurge(motoContext(shared), shared, id, options)
    const done = await purgeSource(motoContext(shared), resumed, options)
    expect(done.left.versions).toBe(0)
    expect(await versionsOf(s3, shared, key(id, ''))).toEqual([])

    const after = await inspectPurge(motoContext(shared), shared, id, options)
    expect(after.removal).toMatchObject({versions: 0, delete_markers: 0})
    expect(after.unfinished_purges, 'the interrupted purge was finished by the re-run').toEqual([])
    expect(after.status).toBe('nothing_to_purge')
  })
})

describe('purge-source and versions written after the switch', () => {
  // The verification looks at current objects; a version a stale writer made after the switch
  // and then deleted (or overwrote) is in no evidence and never reached the engagement's bucket.
  // Its LastModified is after the switch: the purge stops on it.
  it('a late write made after the switch and then deleted in the shared bucket stops the purge (exit 4)', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'purge-late-history')
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    await put(s3, shared, key(id, 'findings.json'), 'findings v1')
    const target = await migrate(s3, shared, id)

    await put(
      s3,
      shared,
      key(id, 'audit_log/shard-00007.jsonl'),
      '{"event":"written to the shared bucket after the switch"}\n',
    )
    await s3.send(new DeleteObjectCommand({Bucket: shared, Key: key(id, 'audit_log/shard-00007.jsonl')}))
    const lateVersions = await versionsOf(s3, shared, key(id, 'audit_log/'))
    expect(lateVersions).toHaveLength(2) // the late version and the delete marker
    expect(await versionsOf(s3, target, key(id, 'audit_log/shard-00007.jsonl'))).toEqual([])

    const inspection = await inspectPurge(motoContext(shared), shared, id, options)
    expect(inspection.status).toBe('refused')
    expect(inspection.refusal).toMatchObject({code: 'written_after_switch', exit: 4})
    expect(inspection.removal?.written_after_switch).toBe(1)
    await expect(purgeSource(motoContext(shared), inspection, options)).rejects.toThrow(
      /written to the shared bucket after the switch/,
    )
    expect(await versionsOf(s3, shared, key(id, 'audit_log/'))).toHaveLength(2)
  })
})

describe('purge-source and a migrated key rewritten after its copy', () => {
  it('a version newer than the copied one, no longer current (written, then deleted), stops the purge: found by the evidence, not the clock', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'purge-newer-than-copied')
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    await put(s3, shared, key(id, 'findings.json'), 'findings v1')
    await put(s3, shared, key(id, 'source/a.pdf'), 'a v1')
    await put(s3, shared, key(id, 'source/a.pdf'), 'a v2')
    await migrate(s3, shared, id)
    // A stale writer after the switch: a v3 that is then deleted, so nothing current differs.
    await put(s3, shared, key(id, 'source/a.pdf'), 'a v3, never migrated')
    await s3.send(new DeleteObjectCommand({Bucket: shared, Key: key(id, 'source/a.pdf')}))

    const inspection = await inspectPurge(motoContext(shared), shared, id, options)
    // a v1 is older than the copied a v2: history, purged by design; only a v3 counts.
    expect(inspection.removal?.written_after_switch).toBe(1)
    expect(inspection.refusal).toMatchObject({code: 'written_after_switch', exit: 4})
  })
})

describe('purge-source after a run interrupted after the switch', () => {
  // A run that switches the record and is killed before its last summary never says when it
  // switched: purge-source refuses no_evidence and suggests --reconcile, which finishes the run
  // and records the time it found the record switched (never earlier than the real switch).
  it('is refused no_evidence; the suggested --reconcile records the switch and the purge can go ahead', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'purge-noflip')
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    await put(s3, shared, key(id, 'findings.json'), 'findings v1')

    const crashing = testS3()
    let summaries = 0
    crashing.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as {Key?: string}
        if (context.commandName === 'PutObjectCommand' && input.Key?.endsWith('/summary.json') && ++summaries === 2) {
          throw Object.assign(new Error('killed after the flip'), {code: 'ECONNRESET'})
        }
        return next(args)
      },
      {step: 'initialize', name: 'review-crash-after-flip'},
    )
    const context = motoContext(shared, crashing)
    const [outcome] = await executeMigration(context, await planMigration(context, shared, {engagementId: id}))
    expect(outcome.status).toBe('failed')
    const record = await new EngagementIndex(s3, shared).get(id)
    expect(record.source_bucket).toBe(expectedBucketName(id)) // the flip happened

    const [verified] = await verifyMigrations(motoContext(shared), shared, id)
    expect(verified.status).toBe('verified')
    const inspection = await inspectPurge(motoContext(shared), shared, id, options)
    expect(inspection.refusal?.code).toBe('no_evidence')
    expect(inspection.refusal?.suggestion).toContain(`auditforge migrate --reconcile --engagement-id ${id}`)

    const before = Date.now()
    await reconcileMigration(motoContext(shared), shared, id)
    const after = await inspectPurge(motoContext(shared), shared, id, options)
    expect(after.status).toBe('would_purge')
    expect(Date.parse(after.flipped_at!)).toBeGreaterThanOrEqual(before)
    // Measured from then: the default soak is not over.
    const soaking = await inspectPurge(motoContext(shared), shared, id, {minAge: '30d', minAgeMs: 30 * 86_400_000})
    expect(soaking.refusal?.code).toBe('too_young')
  })
})

describe('keys proven by MD5 carry the target version they were proven on', () => {
  // A key proven without evidence (a target pre-filled by a run killed before it flushed its
  // evidence chunk) is recorded with the version its HeadObject saw, so once the application
  // rewrites it, --verify-only still finds the migrated version: "changed since migration".
  it('--verify-only after the application rewrote a key that was proven (not copied) by the migration', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'md5-proven')
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    const shard = key(id, 'audit_log/shard-00000.jsonl')
    await put(s3, shared, shard, '{"event":"engagement.created"}\n')
    await put(s3, shared, key(id, 'findings.json'), 'findings v1')
    // What an interrupted earlier run left: the object copied, its evidence chunk never written.
    const target = expectedBucketName(id)
    await s3.send(new CreateBucketCommand({Bucket: target}))
    await s3.send(new PutBucketVersioningCommand({Bucket: target, VersioningConfiguration: {Status: 'Enabled'}}))
    await s3.send(
      new PutBucketTaggingCommand({
        Bucket: target,
        Tagging: {
          TagSet: [
            {Key: 'auditforge:managed-by', Value: 'auditforge'},
            {Key: 'auditforge:engagement-id', Value: id},
            {Key: 'auditforge:index', Value: shared},
          ],
        },
      }),
    )
    await put(s3, target, shard, '{"event":"engagement.created"}\n')

    const context = motoContext(shared)
    const [outcome] = await executeMigration(context, await planMigration(context, shared, {engagementId: id}))
    expect(outcome).toMatchObject({status: 'migrated', copied: 1, skipped_existing: 1})

    // The application appends to its audit log in the engagement's bucket.
    await put(s3, target, shard, '{"event":"engagement.created"}\n{"event":"finding.added"}\n')
    const [verified] = await verifyMigrations(motoContext(shared), shared, id)
    expect({
      status: verified.status,
      differences: verified.differences,
      changed: verified.changed_since_migration,
    }).toEqual({status: 'verified', differences: [], changed: 1})
  })
})
