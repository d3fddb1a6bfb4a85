/**
 * `migrate --execute`: for each planned engagement, provision its bucket, copy what is
 * missing or differs, verify, and only then flip the record with a conditional write. The
 * source is never modified; a run can be interrupted at any moment and run again.
 */
import type {S3Client} from '@aws-sdk/client-s3'
import pLimit from 'p-limit'

import type {AwsContext} from '../aws.js'
import {provisionEngagementBucket} from '../buckets.js'
import {EngagementIndex} from '../engagement-index.js'
import {describeAwsError} from '../errors.js'
import {ownsKey} from '../layout.js'
import {abortMultipartUploads, listEngagementObjects} from '../s3/index.js'
import {ObjectCopier} from './copy.js'
import {type EngagementPlan, type MigrationPlan, totalBytes} from './plan.js'
import {type EngagementOutcome, alreadyMigrated, plannedOutcome} from './report.js'
import {compareObjects, sameObject} from './verify.js'

export interface MigrationProgress {
  engagementId: string
  phase: 'provision' | 'list' | 'copy' | 'verify' | 'record'
  objectsDone: number
  objectsTotal: number
  bytesDone: number
  bytesTotal: number
}

export interface ExecuteOptions {
  /** Copies in flight at once, across all engagements of a run. */
  concurrency?: number
  /** Engagements migrated at once (each provisions, lists and verifies on its own). */
  engagementConcurrency?: number
  onProgress?: (progress: MigrationProgress) => void
  /** Objects larger than this are copied part by part (UploadPartCopy). Injectable for tests. */
  multipartThreshold?: number
  partSize?: number
}

/**
 * Migrates one planned engagement: provisions its bucket with every control, lists the target
 * once, server-side copies only the keys that are missing or differ (content type, user
 * metadata and tags preserved; large objects part by part), re-lists the source for keys that
 * appeared after the plan and copies those too, verifies the target against everything that
 * was copied, and only then points the record at the new bucket with a conditional write.
 * A verification mismatch leaves the record untouched and reports the differences.
 */
export async function migrateEngagement(
  context: AwsContext,
  sharedBucket: string,
  plan: EngagementPlan,
  options: ExecuteOptions = {},
  copyLimit: ReturnType<typeof pLimit> = pLimit(options.concurrency ?? 16),
): Promise<EngagementOutcome> {
  const {s3} = context
  const owner = await context.accountId()
  const id = plan.engagementId
  const outcome: EngagementOutcome = {
    engagement_id: id,
    target_bucket: plan.targetBucket,
    objects: plan.objects.length,
    bytes: plan.bytes,
    status: 'failed',
    copied: 0,
    skipped_existing: 0,
  }
  const progress = {engagementId: id, objectsDone: 0, objectsTotal: plan.objects.length, bytesDone: 0, bytesTotal: plan.bytes}
  const report = (phase: MigrationProgress['phase']) => options.onProgress?.({...progress, phase})

  report('provision')
  const {bucket} = await provisionEngagementBucket(context, id)
  await abortStaleUploads(s3, bucket, owner, id)

  report('list')
  const target = new Map((await listEngagementObjects(s3, bucket, id, owner)).map((object) => [object.key, object]))
  const copier = new ObjectCopier(s3, sharedBucket, bucket, owner, options, copyLimit)

  // First the plan; then, until a fresh listing of the source matches the target, whatever
  // appeared or changed in the source since (the application may still be writing).
  let current = plan.objects
  for (let round = 0; round < 5; round++) {
    const toCopy = current.filter((object) => !sameObject(object, target.get(object.key)))
    if (round === 0) {
      outcome.skipped_existing = current.length - toCopy.length
      progress.objectsDone = outcome.skipped_existing
      progress.bytesDone = plan.bytes - totalBytes(toCopy)
    } else {
      progress.objectsTotal += toCopy.length
      progress.bytesTotal += totalBytes(toCopy)
    }
    if (round > 0 && toCopy.length === 0) break
    report('copy')
    await copier.copyAll(toCopy, (object, landed) => {
      target.set(object.key, landed)
      outcome.copied++
      progress.objectsDone++
      progress.bytesDone += object.size
      report('copy')
    })
    current = await listEngagementObjects(s3, sharedBucket, id)
  }
  const expected = current

  report('verify')
  const landed = await listEngagementObjects(s3, bucket, id, owner)
  const differences = compareObjects(expected, landed, {extraIsDifference: true})
  outcome.objects = expected.length
  outcome.bytes = totalBytes(expected)
  if (landed.length !== expected.length || totalBytes(landed) !== outcome.bytes) {
    differences.push(`target holds ${landed.length} objects, ${totalBytes(landed)} B; planned ${expected.length} objects, ${outcome.bytes} B`)
  }
  if (differences.length > 0) return {...outcome, status: 'verification_failed', differences}

  report('record')
  await new EngagementIndex(s3, sharedBucket).setSourceBucket(id, bucket, '')
  return {...outcome, status: 'migrated'}
}

/** Multipart copies that an interrupted run left behind in the target (every page of them). */
async function abortStaleUploads(s3: S3Client, bucket: string, owner: string, engagementId: string): Promise<void> {
  await abortMultipartUploads(s3, {bucket, expectedOwner: owner, select: (key) => ownsKey(engagementId, key)})
}

/**
 * Migrates every engagement of a plan, a few at once, sharing one pool of copies so the
 * server is kept busy while an engagement provisions or verifies. One engagement's failure is
 * recorded in its outcome and the others still run; engagements the plan found already
 * migrated are reported as such and left alone.
 */
export async function executeMigration(
  context: AwsContext,
  plan: MigrationPlan,
  options: ExecuteOptions = {},
): Promise<EngagementOutcome[]> {
  const copyLimit = pLimit(options.concurrency ?? 16)
  const engagementLimit = pLimit(options.engagementConcurrency ?? 4)
  // Progress across the whole run: the sum of every engagement's latest snapshot.
  const latest = new Map<string, MigrationProgress>()
  const onProgress = options.onProgress && ((snapshot: MigrationProgress) => {
    latest.set(snapshot.engagementId, snapshot)
    const all = [...latest.values()]
    const add = (field: 'objectsDone' | 'objectsTotal' | 'bytesDone' | 'bytesTotal') => all.reduce((total, item) => total + item[field], 0)
    options.onProgress!({...snapshot, objectsDone: add('objectsDone'), objectsTotal: add('objectsTotal'), bytesDone: add('bytesDone'), bytesTotal: add('bytesTotal')})
  })
  for (const engagement of plan.engagements) {
    latest.set(engagement.engagementId, {engagementId: engagement.engagementId, phase: 'provision', objectsDone: 0, objectsTotal: engagement.objects.length, bytesDone: 0, bytesTotal: engagement.bytes})
  }

  const migrated = await Promise.all(
    plan.engagements.map((engagement) =>
      engagementLimit(async (): Promise<EngagementOutcome> => {
        try {
          return await migrateEngagement(context, plan.sourceBucket, engagement, {...options, onProgress}, copyLimit)
        } catch (error) {
          return {
            ...plannedOutcome(engagement),
            status: 'failed',
            error: describeAwsError(error, {action: `Migrating ${engagement.engagementId}`}).message,
          }
        }
      }),
    ),
  )
  return [...plan.alreadyMigrated.map((record) => alreadyMigrated(record)), ...migrated]
}

