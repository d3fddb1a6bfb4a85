/**
 * Verification: what should be in the target against what is, and `--verify-only` for
 * engagements already migrated.
 */
import type {AwsContext} from '../aws.js'
import {EngagementIndex, type EngagementRecord} from '../engagement-index.js'
import {notFound} from '../errors.js'
import {validateEngagementId} from '../layout.js'
import {type ObjectSummary, listEngagementObjects} from '../s3/index.js'
import {totalBytes} from './plan.js'

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
}

/**
 * Compares a migrated engagement's keys in the shared bucket with its own bucket, copying
 * nothing. Objects written to the target since the migration are not differences; a source key
 * missing from the target, or of another size or checksum, is.
 */
export async function verifyMigratedEngagement(context: AwsContext, sharedBucket: string, record: EngagementRecord): Promise<VerifyOutcome> {
  const id = record.engagement_id
  const {source, target} = await listBothSides(context, sharedBucket, record)
  const differences = compareObjects(source, target, {extraIsDifference: false})
  return {
    engagement_id: id,
    target_bucket: record.source_bucket,
    objects: source.length,
    bytes: totalBytes(source),
    status: differences.length > 0 ? 'verification_failed' : 'verified',
    differences,
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
      return [{engagement_id: engagementId, target_bucket: '', objects: 0, bytes: 0, status: 'verification_failed', differences: ['not migrated: source_bucket is empty']}]
    }
    selected = [record]
  }
  const outcomes: VerifyOutcome[] = []
  for (const record of selected) outcomes.push(await verifyMigratedEngagement(context, sharedBucket, record))
  return outcomes
}

