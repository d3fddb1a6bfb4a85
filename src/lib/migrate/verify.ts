/**
 * Verification: what should be in the target against what is, and `--verify-only` for
 * engagements already migrated.
 */
import type {AwsContext} from '../aws.js'
import {EngagementIndex, type EngagementRecord} from '../engagement-index.js'
import {notFound} from '../errors.js'
import {validateEngagementId} from '../layout.js'
import {type ObjectSummary, listEngagementObjects} from '../s3/index.js'
import {readEvidence, readSummaries} from './evidence.js'
import {totalBytes} from './plan.js'
import {afterFlipPass} from './sync.js'

/** Whether a target object holds the same content as the source, as far as listings can tell. */
export function sameObject(source: ObjectSummary, target: ObjectSummary | undefined): boolean {
  if (!target || target.size !== source.size) return false
  // An ETag is an MD5 only for single-part objects; a multipart ETag ("…-N") says nothing
  // about content, and a multipart copy of a single-part object gets one.
  const comparable = (etag?: string) => etag !== undefined && !etag.includes('-')
  if (comparable(source.etag) && comparable(target.etag)) return source.etag === target.etag
  return true
}

/** What differs between what should be in the target and what is; empty when they match. */
export function compareObjects(expected: readonly ObjectSummary[], actual: readonly ObjectSummary[], options: {extraIsDifference: boolean}): string[] {
  const differences: string[] = []
  const actualByKey = new Map(actual.map((object) => [object.key, object]))
  for (const object of expected) {
    const found = actualByKey.get(object.key)
    if (!found) differences.push(`missing in target: ${object.key}`)
    else if (found.size !== object.size) differences.push(`size differs: ${object.key} (source ${object.size} B, target ${found.size} B)`)
    else if (!sameObject(object, found)) differences.push(`checksum differs: ${object.key} (source ${object.etag}, target ${found.etag})`)
  }
  if (options.extraIsDifference) {
    const expectedKeys = new Set(expected.map((object) => object.key))
    for (const object of actual) if (!expectedKeys.has(object.key)) differences.push(`not in source: ${object.key}`)
  }
  return differences
}

/** A migrated engagement's own objects in the shared bucket and in its own bucket. */
export async function listBothSides(context: AwsContext, sharedBucket: string, record: EngagementRecord): Promise<{source: ObjectSummary[]; target: ObjectSummary[]}> {
  const owner = await context.accountId()
  const [source, target] = await Promise.all([
    listEngagementObjects(context.s3, sharedBucket, record.engagement_id),
    listEngagementObjects(context.s3, record.source_bucket, record.engagement_id, owner),
  ])
  return {source, target}
}

export interface VerifyOutcome {
  engagement_id: string
  target_bucket: string
  objects: number
  bytes: number
  status: 'verified' | 'verification_failed'
  differences: string[]
  /** The evidence run verified against; null for a migration from before evidence (compared as it stands). */
  evidence_run: string | null
  /** Information: keys the application has written in the engagement's bucket since the migration. */
  changed_since_migration: number
  new_in_target: number
  /** Keys written to the shared bucket after the migration: `migrate --reconcile` copies them. */
  late_writes: number
}

/**
 * Verifies a migrated engagement without copying: against its evidence when it has one (every
 * migrated version still in the engagement's bucket, the shared bucket unchanged since the copy;
 * what the application wrote since is information, not a difference); a migration from before
 * evidence is compared as it stands (every shared-bucket key present in the engagement's bucket
 * with the same size and, where both are MD5s, the same ETag).
 */
export async function verifyMigratedEngagement(context: AwsContext, sharedBucket: string, record: EngagementRecord): Promise<VerifyOutcome> {
  const id = record.engagement_id
  const owner = await context.accountId()
  const location = {bucket: record.source_bucket, expectedOwner: owner, engagementId: id}
  const runs = await readSummaries(context.s3, location)
  const base = {engagement_id: id, target_bucket: record.source_bucket, changed_since_migration: 0, new_in_target: 0, late_writes: 0}
  if (runs.length === 0) {
    const {source, target} = await listBothSides(context, sharedBucket, record)
    const differences = compareObjects(source, target, {extraIsDifference: false})
    const status = differences.length > 0 ? 'verification_failed' : 'verified'
    return {...base, objects: source.length, bytes: totalBytes(source), status, differences, evidence_run: null}
  }
  const totals = await afterFlipPass({
    s3: context.s3,
    sourceBucket: sharedBucket,
    targetBucket: record.source_bucket,
    engagementId: id,
    owner,
    evidence: readEvidence(context.s3, location),
  })
  const reconcile = `auditforge migrate --reconcile --engagement-id ${id}`
  const differences = [
    ...totals.missing.map((difference) => `migrated version missing: ${difference.key} (${difference.detail})`),
    ...totals.lateWrites.map((difference) => `late write: ${difference.key} (${difference.detail}; \`${reconcile}\` copies it)`),
  ]
  const listed = totals.missing.length + totals.lateWrites.length
  const all = totals.missingCount + totals.lateWriteCount
  if (all > listed) differences.push(`… and ${all - listed} more`)
  return {
    ...base,
    objects: totals.objects,
    bytes: totals.bytes,
    status: all > 0 ? 'verification_failed' : 'verified',
    differences,
    evidence_run: runs.at(-1)!.run_id,
    changed_since_migration: totals.changedSinceMigration,
    new_in_target: totals.newInTarget,
    late_writes: totals.lateWriteCount,
  }
}

/**
 * The engagements `--verify-only` checks: every migrated one, or the one named. A named
 * engagement that was never migrated fails verification: there is no target to compare.
 */
export async function verifyMigrations(context: AwsContext, sharedBucket: string, engagementId?: string): Promise<VerifyOutcome[]> {
  const records = await new EngagementIndex(context.s3, sharedBucket).list()
  let selected = records.filter((record) => record.source_bucket)
  if (engagementId !== undefined) {
    const record = records.find((candidate) => candidate.engagement_id === validateEngagementId(engagementId))
    if (!record) throw notFound(`No engagement ${engagementId} in the index of ${sharedBucket}`)
    if (!record.source_bucket) {
      return [
        {
          engagement_id: engagementId,
          target_bucket: '',
          objects: 0,
          bytes: 0,
          status: 'verification_failed',
          differences: ['not migrated: source_bucket is empty'],
          evidence_run: null,
          changed_since_migration: 0,
          new_in_target: 0,
          late_writes: 0,
        },
      ]
    }
    selected = [record]
  }
  const outcomes: VerifyOutcome[] = []
  for (const record of selected) outcomes.push(await verifyMigratedEngagement(context, sharedBucket, record))
  return outcomes
}

