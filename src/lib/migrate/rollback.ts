/** `migrate rollback`: point an engagement back at the shared bucket; no object is touched. */
import type {AwsContext} from '../aws.js'
import {EngagementIndex, type EngagementRecord} from '../engagement-index.js'
import {AuditforgeError, ExitCode} from '../errors.js'
import {type CurrentVersion, compareKeys, listCurrentVersions} from '../s3/index.js'
import {type EvidenceLine, readEvidence, readSummaries} from './evidence.js'
import {sourcePurge} from './purge.js'
import {Cursor} from './streams.js'
import {isMd5} from './sync.js'

/** What a rollback reports (the `migrate rollback` result). */
export type {MigrateRollbackResult as RollbackResult} from '../../results/migrate.js'

/** At most this many keys at risk are returned; a rollback warning shows fewer still. */
const maxRisk = 1000

/**
 * What a rollback would hide: keys in the engagement's own bucket that the application would no
 * longer see as they are once the record points at the shared bucket again (the first 1000, in
 * key order). With migration evidence, a key is safe only when its current object is the version
 * the migration wrote (same ETag and size as recorded) and the shared bucket still has the key;
 * anything written since the migration, or not in the evidence, is at risk. Without evidence,
 * a key is safe only when both sides hold single-part objects with equal MD5 ETags and sizes;
 * anything else (a multipart or SSE-KMS ETag, which says nothing about content) is at risk.
 * Listings are merged as they stream: nothing is held but the keys returned.
 */
export async function rollbackRisk(
  context: AwsContext,
  sharedBucket: string,
  record: EngagementRecord,
): Promise<string[]> {
  const id = record.engagement_id
  const owner = await context.accountId()
  const location = {bucket: record.source_bucket, expectedOwner: owner, engagementId: id}
  const withEvidence = (await readSummaries(context.s3, location)).length > 0
  const source = new Cursor(listCurrentVersions(context.s3, sharedBucket, id))
  const evidence = new Cursor<EvidenceLine>(withEvidence ? readEvidence(context.s3, location) : empty())
  const risk: string[] = []
  try {
    for await (const target of listCurrentVersions(context.s3, record.source_bucket, id, owner)) {
      const shared = await source.skipWhile((object) => compareKeys(object.key, target.key) < 0)
      const line = await evidence.skipWhile((candidate) => compareKeys(candidate.key, target.key) < 0)
      const inShared = shared?.key === target.key ? shared : undefined
      const safe = withEvidence
        ? inShared !== undefined && line?.key === target.key && isMigratedVersion(line, target)
        : sameSinglePart(inShared, target)
      if (!safe) risk.push(target.key)
      if (risk.length >= maxRisk) break
    }
  } finally {
    await Promise.all([source.close(), evidence.close()])
  }
  return risk
}

/** Whether the target's current object is the version the evidence says the migration wrote. */
function isMigratedVersion(line: EvidenceLine, target: CurrentVersion): boolean {
  return (
    line.action !== 'removed' &&
    line.target_etag !== null &&
    line.target_etag === target.etag &&
    line.size === target.size
  )
}

/** Exact single-part MD5 ETag and size equality; a multipart ETag ("…-N") never proves content. */
function sameSinglePart(shared: CurrentVersion | undefined, target: CurrentVersion): boolean {
  return (
    shared !== undefined &&
    shared.etag !== undefined &&
    isMd5(shared.etag) &&
    shared.etag === target.etag &&
    shared.size === target.size
  )
}

async function* empty(): AsyncGenerator<EvidenceLine> {}

/**
 * Refuses (exit 5) to roll back an engagement whose data `migrate purge-source` has removed
 * (even partly) from the shared bucket: pointing the record there would show the application
 * an engagement without its data.
 */
export async function assertRollbackPossible(
  context: AwsContext,
  sharedBucket: string,
  record: EngagementRecord,
): Promise<void> {
  const purge = await sourcePurge(context, record)
  if (!purge) return
  const when = purge.completed_at
    ? `at ${purge.completed_at}`
    : `by a purge started at ${purge.started_at} (not completed)`
  throw new AuditforgeError(
    `Refusing to roll back ${record.engagement_id}: its data was purged from the shared bucket ${sharedBucket} ${when} (purge ${purge.purge_id}); only ${record.source_bucket} holds it now`,
    {
      code: 'source_purged',
      exit: ExitCode.refused,
      suggestion: `Keep ${record.engagement_id} on ${record.source_bucket}; \`auditforge migrate evidence ${record.engagement_id}\` shows the purge.`,
    },
  )
}

/**
 * Points the engagement back at the shared bucket; touches no object. Refused (exit 5) after
 * `migrate purge-source` removed its data from there.
 */
export async function rollbackMigration(
  context: AwsContext,
  sharedBucket: string,
  engagementId: string,
): Promise<EngagementRecord> {
  const index = new EngagementIndex(context.s3, sharedBucket)
  await assertRollbackPossible(context, sharedBucket, await index.get(engagementId))
  return index.setSourceBucket(engagementId, '')
}
