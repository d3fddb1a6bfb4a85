/**
 * The plan: for every engagement still in the shared bucket (or the one named), exactly its own
 * objects there. Read-only; AccessDenied or NoSuchBucket on the shared bucket is a plan with
 * that status and no engagements (seed 001's non-destructive failure mode).
 */
import type {SourceStatus} from '../../results/migrate.js'
import pLimit from 'p-limit'

import type {AwsContext} from '../aws.js'
import {bucketNameFor} from '../buckets.js'
import {EngagementIndex, type EngagementRecord} from '../engagement-index.js'
import {AuditforgeError, notFound} from '../errors.js'
import {isEngagementId, validateEngagementId} from '../layout.js'
import {type ObjectSummary, listCurrentVersions} from '../s3/index.js'

export type {ObjectSummary} from '../s3/index.js'

/**
 * One engagement's plan: how many of its own objects the shared bucket holds and their bytes.
 * Counted while the listing streams by, never held: the copy passes list again as they go.
 */
export interface EngagementPlan {
  engagementId: string
  targetBucket: string
  objects: number
  bytes: number
}

export type {SourceStatus} from '../../results/migrate.js'

export interface MigrationPlan {
  sourceBucket: string
  /** Not 'ok' when the shared bucket could not be read: then there is no plan (seed 001). */
  status: SourceStatus
  message?: string
  engagements: EngagementPlan[]
  /** Named engagement that already has its own bucket: nothing to do. */
  alreadyMigrated: EngagementRecord[]
  /** Index entries whose id auditforge cannot address safely; left alone. */
  invalidIds: string[]
}

export interface PlanOptions {
  engagementId?: string
  concurrency?: number
}

/**
 * Lists, for every engagement still in the shared bucket (or the one named), exactly its own
 * objects there: `auditforge/engagements/<id>/…`, legacy `auditforge/audit_logs/<id>/…`,
 * `auditforge/deliverables/<id>.<ext>`, `<id>-methodology.md` and its exports. The index, firm
 * branding and tenant corpora never move. Mutates nothing.
 * AccessDenied or NoSuchBucket on the shared bucket gives a plan with that status and no
 * engagements.
 */
export async function planMigration(
  context: AwsContext,
  sharedBucket: string,
  options: PlanOptions = {},
): Promise<MigrationPlan> {
  if (options.engagementId !== undefined) validateEngagementId(options.engagementId)
  const empty = {sourceBucket: sharedBucket, engagements: [], alreadyMigrated: [], invalidIds: []}
  try {
    const records = await new EngagementIndex(context.s3, sharedBucket).list()
    // An id outside the accepted form cannot be matched to keys exactly, so it never moves.
    const invalidIds = records
      .filter((record) => !isEngagementId(record.engagement_id))
      .map((record) => record.engagement_id)
    let candidates = records.filter((record) => !record.source_bucket && isEngagementId(record.engagement_id))
    const alreadyMigrated: EngagementRecord[] = []
    if (options.engagementId !== undefined) {
      const record = records.find((candidate) => candidate.engagement_id === options.engagementId)
      if (!record) throw notFound(`No engagement ${options.engagementId} in the index of ${sharedBucket}`)
      if (record.source_bucket) alreadyMigrated.push(record)
      candidates = record.source_bucket ? [] : [record]
    }
    const limit = pLimit(options.concurrency ?? 8)
    const engagements = await Promise.all(
      candidates.map((record) =>
        limit(async (): Promise<EngagementPlan> => {
          let [objects, bytes] = [0, 0]
          for await (const object of listCurrentVersions(context.s3, sharedBucket, record.engagement_id)) {
            objects++
            bytes += object.size
          }
          return {
            engagementId: record.engagement_id,
            targetBucket: await bucketNameFor(context, record.engagement_id),
            objects,
            bytes,
          }
        }),
      ),
    )
    return {...empty, status: 'ok', engagements, alreadyMigrated, invalidIds}
  } catch (error) {
    const status = sourceFailure(error)
    if (!status) throw error
    return {...empty, status, message: (error as AuditforgeError).message}
  }
}

function sourceFailure(error: unknown): SourceStatus | undefined {
  if (!(error instanceof AuditforgeError)) return undefined
  if (error.code === 'access_denied') return 'access_denied'
  if (error.code === 'no_such_bucket') return 'no_such_bucket'
  return undefined
}

export function totalBytes(objects: readonly ObjectSummary[]): number {
  return objects.reduce((sum, object) => sum + object.size, 0)
}
