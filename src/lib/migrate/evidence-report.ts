/**
 * `migrate evidence`: what a migration's evidence says, read from the engagement's own bucket
 * for an auditor. Read-only: nothing is written, nothing is repaired.
 */
import type {AwsContext} from '../aws.js'
import {bucketNameFor, engagementBucketOf} from '../buckets.js'
import {EngagementIndex, type EngagementRecord} from '../engagement-index.js'
import {AuditforgeError, ExitCode, notFound} from '../errors.js'
import {migrationKeys, validateEngagementId} from '../layout.js'
import {listCurrentVersions} from '../s3/index.js'
import {
  type EvidenceLine,
  type EvidenceLocation,
  type EvidenceSummary,
  type VerificationRecord,
  readEvidence,
  readLatestVerificationRecord,
  readSummaries,
} from './evidence.js'
import {readPurgeRecords} from './purge.js'

/** The evidence lines of the engagement's record (every run merged, newest line per key), by action. */
export interface EvidenceObjectCounts {
  lines: number
  copied: number
  proven: number
  removed: number
  late_write: number
}

export interface EvidenceReport {
  engagement_id: string
  /** The engagement's own bucket, where the evidence lives. */
  bucket: string
  /** Every run with a summary, oldest first. */
  runs: string[]
  /** The summary of the run reported on: the latest, or the one asked for. */
  summary: EvidenceSummary
  objects: EvidenceObjectCounts
  /** The latest `migrate purge-source` of the shared bucket's copy; null when there was none. */
  source_purge: SourcePurgeReport | null
  /** The newest `--verify-only` record with deep checks, whichever run it verified; null when there is none. */
  verification_record: VerificationRecord | null
}

/**
 * Reads an engagement's migration evidence: the record from the index (exit 3 when missing),
 * its bucket (`source_bucket`, or for an engagement not migrated, or rolled back, the bucket
 * named after it when that exists), every run's summary, the latest run or `runId` (exit 3 when
 * unknown, naming the runs), the evidence lines counted by action as they stream by, and the
 * newest verification record. The id and the run id are checked before any AWS call (exit 2).
 */
export async function loadEvidence(
  context: AwsContext,
  sharedBucket: string,
  engagementId: string,
  options: {runId?: string} = {},
): Promise<EvidenceReport> {
  const id = validateEngagementId(engagementId)
  // Builds the run's prefix only to have the run id checked (exit 2) before any call.
  if (options.runId !== undefined) migrationKeys.run(id, options.runId)
  const record = await new EngagementIndex(context.s3, sharedBucket).get(id)
  const bucket = await engagementBucketOf(context, record)
  if (bucket === undefined) throw notMigrated(id, await bucketNameFor(context, id))
  const location: EvidenceLocation = {bucket, expectedOwner: await context.accountId(), engagementId: id}

  const summaries = await readSummaries(context.s3, location)
  if (summaries.length === 0) throw await noEvidence(context, sharedBucket, record, bucket)
  for (const summary of summaries) assertRunId(location, summary)
  const runs = summaries.map((summary) => summary.run_id)
  const summary =
    options.runId === undefined ? summaries.at(-1)! : summaries.find((candidate) => candidate.run_id === options.runId)
  if (!summary) {
    throw notFound(
      `No run ${options.runId} in the migration evidence of ${id} in ${bucket}; its runs: ${runs.join(', ')}`,
      'Pass one of the runs listed to --run, or leave --run out for the latest.',
    )
  }
  return {
    engagement_id: id,
    bucket,
    runs,
    summary: withNulls(summary),
    objects: await countEvidence(context, location),
    verification_record: await readLatestVerificationRecord(context.s3, location),
    source_purge: await sourcePurgeOf(context, location),
  }
}

/** `s3://<bucket>/auditforge/migrations/<id>/<run id>/`: where a run's evidence lives. */
export function evidenceRunUri(report: EvidenceReport): string {
  return `s3://${report.bucket}/${migrationKeys.run(report.engagement_id, report.summary.run_id)}`
}

/** Counts the merged evidence lines by action; lines are counted as they stream, never held. */
async function countEvidence(context: AwsContext, location: EvidenceLocation): Promise<EvidenceObjectCounts> {
  const counts: EvidenceObjectCounts = {lines: 0, copied: 0, proven: 0, removed: 0, late_write: 0}
  const actions = new Set<EvidenceLine['action']>(['copied', 'proven', 'removed', 'late_write'])
  for await (const line of readEvidence(context.s3, location)) {
    counts.lines++
    if (actions.has(line.action)) counts[line.action]++
  }
  return counts
}

/** A summary whose run id is not one auditforge writes was not written by it: say so, do not guess. */
function assertRunId(location: EvidenceLocation, summary: EvidenceSummary): void {
  try {
    migrationKeys.run(location.engagementId, String(summary.run_id))
  } catch {
    throw new AuditforgeError(
      `A migration summary of ${location.engagementId} in ${location.bucket} has an invalid run_id ${JSON.stringify(summary.run_id)}; it was not written by auditforge`,
      {code: 'invalid_evidence', exit: ExitCode.failed},
    )
  }
}

/** The summary as stored, with `null` (not a missing field) for every value it may lack. */
function withNulls(summary: EvidenceSummary): EvidenceSummary {
  return {
    ...summary,
    finished_at: summary.finished_at ?? null,
    index_etag_before: summary.index_etag_before ?? null,
    index_etag_after: summary.index_etag_after ?? null,
    flipped_at: summary.flipped_at ?? null,
    // Summaries written before deep checks existed have no such field: none were run.
    deep_checks: summary.deep_checks ?? null,
  }
}

function notMigrated(id: string, bucket: string): AuditforgeError {
  return notFound(
    `No migration evidence for ${id} in ${bucket}; it has not been migrated with evidence yet`,
    `Migrate it with \`auditforge migrate --engagement-id ${id} --execute\`.`,
  )
}

/**
 * Why a bucket holds no evidence (exit 3 each way): the record still points at the shared bucket
 * (not migrated yet); or it points at this bucket and the shared bucket holds none of the
 * engagement's keys, so it was created there and has no migration at all (nothing to suggest);
 * or it does hold some, so it was migrated before evidence existed.
 */
async function noEvidence(
  context: AwsContext,
  sharedBucket: string,
  record: EngagementRecord,
  bucket: string,
): Promise<AuditforgeError> {
  const id = record.engagement_id
  if (record.source_bucket !== bucket) return notMigrated(id, bucket)
  let inShared = false
  for await (const _object of listCurrentVersions(context.s3, sharedBucket, id)) {
    inShared = true
    break
  }
  if (!inShared)
    return notFound(`No migration evidence for ${id} in ${bucket}: it was created in that bucket and has no migration`)
  return notFound(
    `No migration evidence for ${id} in ${bucket}; it was migrated before evidence existed`,
    `Verify it as both buckets stand with \`auditforge migrate --verify-only --engagement-id ${id}\`; to record evidence, roll back and migrate again (\`auditforge migrate rollback --engagement-id ${id}\`, then \`auditforge migrate --engagement-id ${id} --execute\`).`,
  )
}

/** The latest purge of the shared bucket's copy, as `migrate evidence` reports it. */
export interface SourcePurgeReport {
  purge_id: string
  /** `completed`; `listed` or `incomplete` for a purge that was interrupted (run it again). */
  status: 'listed' | 'incomplete' | 'completed'
  shared_bucket: string
  started_at: string
  completed_at: string | null
  /** What this purge removed (by version id), and what was left in the shared bucket after it. */
  versions: number
  delete_markers: number
  bytes: number | null
  left_versions: number | null
  /** Earlier, interrupted purges this one finished. */
  resumes: string[]
  /** The purge record in the engagement's bucket. */
  key: string
}

/** The latest purge that got past its listing (an `aborted` one deleted nothing), or null. */
async function sourcePurgeOf(context: AwsContext, location: EvidenceLocation): Promise<SourcePurgeReport | null> {
  const purge = (await readPurgeRecords(context.s3, location))
    .filter((candidate) => candidate.status !== 'aborted')
    .at(-1)
  if (!purge || purge.status === 'aborted') return null
  return {
    purge_id: purge.purge_id,
    status: purge.status,
    shared_bucket: purge.shared_bucket,
    started_at: purge.started_at,
    completed_at: purge.completed_at ?? null,
    versions: purge.removed?.versions ?? purge.intent?.versions ?? 0,
    delete_markers: purge.removed?.delete_markers ?? purge.intent?.delete_markers ?? 0,
    bytes: purge.removed ? purge.removed.bytes : (purge.intent?.bytes ?? null),
    left_versions: purge.left?.versions ?? null,
    resumes: purge.resumes ?? [],
    key: migrationKeys.purgeRecord(location.engagementId, purge.purge_id),
  }
}
