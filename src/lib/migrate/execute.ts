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
import {migrationKeys, ownsKey} from '../layout.js'
import {abortMultipartUploads} from '../s3/index.js'
import {LocalCopyEngine} from './copy.js'
import {createJobGuard} from './batch/guard.js'
import type {BulkCopyEngine, BulkJobGuard, BulkJobProgress, BulkOutcome, CopyEngine} from './engine.js'
import {type LeaseOptions, MigrationLease} from './lease.js'
import {
  type DeepChecks,
  checksumDifferences,
  deepCheckFailures,
  evidencePairs,
  runDeepChecks,
  sampleDifferences,
  unlistedChecksumDifferences,
  validateContentSample,
  wantsDeepChecks,
} from './deep-check.js'
import {
  type EvidenceLine,
  type EvidenceSummary,
  EvidenceWriter,
  readEvidence,
  segmentName,
  writeSummary,
} from './evidence.js'
import type {EngagementPlan, MigrationPlan} from './plan.js'
import {emptyStream} from './streams.js'
import {type EngagementOutcome, alreadyMigrated, plannedOutcome} from './report.js'
import {type Difference, type PassTotals, type SyncSides, checkPass, copyPass, latePass} from './sync.js'

export interface MigrationProgress {
  engagementId: string
  phase: 'provision' | 'list' | 'copy' | 'verify' | 'record'
  objectsDone: number
  objectsTotal: number
  bytesDone: number
  bytesTotal: number
  /** While a Batch Operations job copies: its id, status and task counts. */
  job?: BulkJobProgress
}

export interface ExecuteOptions {
  /** Copies in flight at once, across all engagements of a run. */
  concurrency?: number
  /** Engagements migrated at once (each provisions, lists and verifies on its own). */
  engagementConcurrency?: number
  onProgress?: (progress: MigrationProgress) => void
  /** Each engagement's outcome as soon as it is settled (switched, failed, or a difference). */
  onEngagementDone?: (outcome: EngagementOutcome) => void
  /** Objects larger than this are copied part by part (UploadPartCopy). Injectable for tests. */
  multipartThreshold?: number
  partSize?: number
  /** Recorded in the evidence summary (the CLI's version). */
  toolVersion?: string
  /** The clock; injectable for tests. */
  now?: () => Date
  /** After identity verification passed, compare the stored full-object checksums of every object. */
  checksums?: boolean
  /** After identity verification passed, compare the bytes (SHA-256) of this many objects drawn at random. */
  contentSample?: number
  /** A uniform integer in [0, maxExclusive) for the sample; injectable for tests. */
  randomInt?: (maxExclusive: number) => number
  /**
   * Runs the first copy pass of the engagements it applies to in bulk (S3 Batch Operations,
   * batch/); the local engine copies the rest, and verification, evidence and flip are the same.
   */
  bulk?: BulkCopyEngine
  /** The engagement lease's timings; injectable for tests. */
  lease?: LeaseOptions
  /**
   * Finds an earlier run's bulk job still active for an engagement before anything is copied:
   * adopted by `bulk` when there is one, else the engagement is refused. Default: the S3 Batch
   * Operations job states in the shared bucket (S3 Control is asked only when one is unsettled).
   */
  jobGuard?: BulkJobGuard
}

/**
 * Migrates one planned engagement, as evidence: provisions its bucket with every control; runs
 * copy passes (a merge-join of the source's current versions, the target's and the evidence so
 * far) that copy what is not proven in the target, each copy pinned to the listed source
 * version and conditional on the target, and record one evidence line per object in the
 * target's reserved `auditforge/migrations/<id>/<run>/` prefix; then verifies by identity
 * (check pass), repeating the copy pass while the source keeps moving (at most five passes);
 * writes the run's summary (the verification result included) before the flip; flips the
 * record with a conditional write; looks at the source once more for late writes; and
 * completes the summary. A verification failure leaves the record untouched.
 */
export async function migrateEngagement(
  context: AwsContext,
  sharedBucket: string,
  plan: EngagementPlan,
  options: ExecuteOptions = {},
  copyLimit: ReturnType<typeof pLimit> = pLimit(options.concurrency ?? 16),
): Promise<EngagementOutcome> {
  if (options.contentSample !== undefined) validateContentSample(options.contentSample)
  const now = options.now ?? (() => new Date())
  const startedAt = now()
  const runId = migrationKeys.newRunId(startedAt)
  // One run per engagement at a time: taken before anything is provisioned or copied.
  const lease = await MigrationLease.acquire(
    context.s3,
    sharedBucket,
    plan.engagementId,
    {runId, operator: await context.callerArn()},
    {now, ...options.lease},
  )
  try {
    return await migrateLeased(context, sharedBucket, plan, options, copyLimit, {runId, startedAt, lease})
  } finally {
    await lease.release()
  }
}

async function migrateLeased(
  context: AwsContext,
  sharedBucket: string,
  plan: EngagementPlan,
  options: ExecuteOptions,
  copyLimit: ReturnType<typeof pLimit>,
  run: {runId: string; startedAt: Date; lease: MigrationLease},
): Promise<EngagementOutcome> {
  const {runId, startedAt, lease} = run
  const {s3} = context
  // The plan may be older than another run that migrated the engagement meanwhile (planned, then
  // asked y/N): under the lease, the record says whether there is anything left to do. Copying
  // again would overwrite, and remove, what the application wrote since the switch.
  const record = await new EngagementIndex(s3, sharedBucket).get(plan.engagementId)
  if (record.source_bucket) return alreadyMigrated(record)
  const owner = await context.accountId()
  const id = plan.engagementId
  const now = options.now ?? (() => new Date())
  const outcome: EngagementOutcome = {
    engagement_id: id,
    target_bucket: plan.targetBucket,
    objects: plan.objects,
    bytes: plan.bytes,
    status: 'failed',
    copied: 0,
    skipped_existing: 0,
  }
  const progress = {engagementId: id, objectsDone: 0, objectsTotal: plan.objects, bytesDone: 0, bytesTotal: plan.bytes}
  const report = (phase: MigrationProgress['phase']) => options.onProgress?.({...progress, phase})

  // The first pass goes to the bulk engine when it takes this engagement (`--engine batch`, or
  // `auto` over its threshold). Any other run first makes sure no earlier run's job is still
  // copying into the engagement's bucket: a bulk engine adopts it (waits for it, records what it
  // copied); without one the engagement is refused, record untouched.
  let bulk = options.bulk?.appliesTo(plan) ? options.bulk : undefined
  if (!bulk) {
    const earlier = await (options.jobGuard ?? createJobGuard(context, sharedBucket)).earlierJob(id)
    if (earlier && options.bulk) bulk = options.bulk
    else if (earlier) throw earlier.refusal
  }

  report('provision')
  const {bucket, created, skipped} = await provisionEngagementBucket(context, id)
  // A control that does not apply here (TLS-only on a plain-http endpoint) is said, never hidden.
  if (skipped.length > 0) outcome.skipped_controls = skipped
  await abortStaleUploads(s3, bucket, owner, id)

  const location = {bucket, expectedOwner: owner, engagementId: id}
  const local = new LocalCopyEngine(s3, {
    sourceBucket: sharedBucket,
    targetBucket: bucket,
    owner,
    multipartThreshold: options.multipartThreshold,
    partSize: options.partSize,
  })
  // No copy once the lease is known lost: another run may be copying and switching.
  const engine: CopyEngine = {
    copy: (request) => {
      lease.assertHeld()
      return local.copy(request)
    },
  }
  const sides = (): SyncSides => ({
    s3,
    sourceBucket: sharedBucket,
    targetBucket: bucket,
    engagementId: id,
    owner,
    evidence: readEvidence(s3, location),
    mayWrite: () => lease.assertHeld(),
  })
  // A bucket this run created holds neither objects nor evidence: the first pass lists neither.
  const freshSides = (): SyncSides => ({...sides(), evidence: emptyStream<EvidenceLine>(), targetKnownEmpty: true})
  const segments: string[] = []
  const done = {copied: 0, proven: 0, removed: 0}
  const onObject = ({size, action}: {size: number; action: string}) => {
    if (action === 'removed') return
    progress.objectsDone++
    progress.bytesDone += size
    report('copy')
  }
  /** Runs `pass` with a fresh evidence segment, written out even when the pass fails half way. */
  const withSegment = async <T>(
    kind: 'copy' | 'late',
    pass: (record: (line: EvidenceLine) => Promise<void>) => Promise<T>,
  ): Promise<T> => {
    const writer = new EvidenceWriter(s3, location, runId, segmentName(segments.length + 1, kind))
    segments.push(writer.segment)
    try {
      return await pass((line) => writer.append(line))
    } finally {
      await writer.finish()
    }
  }

  let bulkOutcome: BulkOutcome | undefined
  // Its job's progress: the tasks it has done, on top of what this run did itself.
  const onJob = (job: BulkJobProgress) => {
    const done = job.succeeded + job.failed
    const bytes = job.tasks > 0 ? Math.round((job.bytes * done) / job.tasks) : 0
    options.onProgress?.({
      ...progress,
      objectsDone: progress.objectsDone + done,
      bytesDone: progress.bytesDone + bytes,
      phase: 'copy',
      job,
    })
  }
  let check: PassTotals | undefined
  // Sources the copy found archived: their "missing" in the check is said as what it is.
  const archived = new Map<string, Difference>()
  for (let pass = 1; pass <= maxPasses; pass++) {
    report('copy')
    if (pass > 1) {
      // Another pass after the source moved: count its work afresh.
      progress.objectsTotal = progress.objectsDone + (check?.differenceCount ?? 0)
    }
    const firstSides = pass === 1 && created ? freshSides() : sides()
    const totals =
      pass === 1 && bulk
        ? await bulk.firstPass({
            sides: firstSides,
            engine,
            limit: copyLimit,
            onObject,
            onJob,
            runId,
            withSegment: (run) => withSegment('copy', run),
            checkpoint: () => lease.renew(),
          })
        : await withSegment('copy', (record) =>
            copyPass(firstSides, {engine, record, recordProven: pass === 1, limit: copyLimit, onObject}),
          )
    if ('bulk' in totals) bulkOutcome = totals.bulk as BulkOutcome
    done.copied += totals.copied
    if (pass === 1) done.proven = totals.proven
    done.removed += totals.removed
    for (const difference of totals.differences)
      if (difference.kind === 'archived') archived.set(difference.key, difference)
    report('verify')
    check = await checkPass(sides())
    check.differences = check.differences.map((difference) => archived.get(difference.key) ?? difference)
    // Only a moving source can make another pass worth it; an archived object stays archived.
    if (check.differenceCount === 0 || check.differences.every((difference) => difference.kind === 'archived')) break
  }
  // The deep checks, when asked for, prove what the versions that identity verification found
  // hold; they run only once identity holds, and their failures keep the record where it is.
  let deepChecks: DeepChecks | null = null
  if (check!.differenceCount === 0 && wantsDeepChecks(options)) {
    report('verify')
    const pairs = evidencePairs(readEvidence(s3, location))
    deepChecks = await runDeepChecks({s3, sourceBucket: sharedBucket, targetBucket: bucket, owner}, pairs, {
      ...options,
      limit: copyLimit,
      now,
    })
  }
  const deepFailures = deepCheckFailures(deepChecks)
  const verified = check!.differenceCount === 0 && deepFailures === 0
  const summary: EvidenceSummary = {
    engagement_id: id,
    run_id: runId,
    tool_version: options.toolVersion ?? 'unknown',
    operator_arn: await context.callerArn(),
    source_bucket: sharedBucket,
    target_bucket: bucket,
    started_at: iso(startedAt),
    finished_at: null,
    objects: check!.objects,
    bytes: check!.bytes,
    copied: done.copied,
    proven: done.proven,
    removed: done.removed,
    verification: {
      result: verified ? 'passed' : 'failed',
      checked_at: iso(now()),
      differences: check!.differenceCount + deepFailures,
    },
    index_etag_before: null,
    index_etag_after: null,
    flipped_at: null,
    late_writes: 0,
    late_write_conflicts: 0,
    segments,
    deep_checks: deepChecks,
  }
  Object.assign(
    outcome,
    {objects: check!.objects, bytes: check!.bytes, copied: done.copied, skipped_existing: done.proven, run_id: runId},
    bulkOutcome ? {batch: bulkOutcome} : {},
  )
  // The summary, verification included, is stored before the record can switch.
  await writeSummary(s3, location, summary)
  if (!verified) {
    await writeSummary(s3, location, {...summary, finished_at: iso(now())})
    const differences = [
      ...check!.differences,
      ...checksumDifferences(deepChecks?.checksums),
      ...sampleDifferences(deepChecks?.content_sample),
    ]
    const unlisted =
      check!.differenceCount - check!.differences.length + unlistedChecksumDifferences(deepChecks?.checksums)
    return {
      ...outcome,
      status: 'verification_failed',
      differences,
      unlisted_differences: unlisted,
      ...(deepChecks ? {deep_checks: deepChecks} : {}),
    }
  }

  report('record')
  // Still this run's engagement, proven by a write, right before the switch.
  await lease.renew()
  const index = new EngagementIndex(s3, sharedBucket)
  await index.setSourceBucket(id, bucket, '')
  summary.flipped_at = iso(now())
  summary.index_etag_before = index.lastWrite?.before ?? null
  summary.index_etag_after = index.lastWrite?.after ?? null

  // Writes that reached the source between the last listing and the flip.
  const late = await withSegment('late', (record) => latePass(sides(), {engine, record, limit: copyLimit, onObject}))
  summary.late_writes = late.copied
  summary.late_write_conflicts = late.conflictCount
  summary.finished_at = iso(now())
  await writeSummary(s3, location, summary)
  return {
    ...outcome,
    status: 'migrated',
    ...(deepChecks ? {deep_checks: deepChecks} : {}),
    late_writes: late.copied,
    ...(late.conflictCount > 0 ? {late_write_conflicts: late.conflicts.map((conflict) => conflict.key)} : {}),
  }
}

/** Copy passes at most, while the source keeps changing under the copy. */
const maxPasses = 5

function iso(date: Date): string {
  return date.toISOString()
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
  if (options.contentSample !== undefined) validateContentSample(options.contentSample)
  const copyLimit = pLimit(options.concurrency ?? 16)
  const engagementLimit = pLimit(options.engagementConcurrency ?? 4)
  // Progress across the whole run: the sum of every engagement's latest snapshot.
  const latest = new Map<string, MigrationProgress>()
  const onProgress =
    options.onProgress &&
    ((snapshot: MigrationProgress) => {
      latest.set(snapshot.engagementId, snapshot)
      const all = [...latest.values()]
      const add = (field: 'objectsDone' | 'objectsTotal' | 'bytesDone' | 'bytesTotal') =>
        all.reduce((total, item) => total + item[field], 0)
      options.onProgress!({
        ...snapshot,
        objectsDone: add('objectsDone'),
        objectsTotal: add('objectsTotal'),
        bytesDone: add('bytesDone'),
        bytesTotal: add('bytesTotal'),
      })
    })
  for (const engagement of plan.engagements) {
    latest.set(engagement.engagementId, {
      engagementId: engagement.engagementId,
      phase: 'provision',
      objectsDone: 0,
      objectsTotal: engagement.objects,
      bytesDone: 0,
      bytesTotal: engagement.bytes,
    })
  }

  const migrated = await Promise.all(
    plan.engagements.map((engagement) =>
      engagementLimit(async (): Promise<EngagementOutcome> => {
        let outcome: EngagementOutcome
        try {
          outcome = await migrateEngagement(context, plan.sourceBucket, engagement, {...options, onProgress}, copyLimit)
        } catch (error) {
          const described = describeAwsError(error, {action: `Migrating ${engagement.engagementId}`})
          outcome = {
            ...plannedOutcome(engagement),
            status: 'failed',
            error: described.message,
            error_code: described.code,
          }
        }
        options.onEngagementDone?.(outcome)
        return outcome
      }),
    ),
  )
  return [...plan.alreadyMigrated.map((record) => alreadyMigrated(record)), ...migrated]
}
