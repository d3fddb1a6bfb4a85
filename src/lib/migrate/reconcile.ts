/**
 * `migrate --reconcile`: after the flip, copies the late writes of one migrated engagement (keys
 * written to the shared bucket after their copy) into its bucket, but only where the bucket
 * still holds the version the migration wrote (or, for a new key, nothing): what the
 * application has written since is never overwritten. Each copy is recorded in the evidence, in
 * a run of its own, and the engagement is verified again.
 */
import type {ReconcileOutcome} from '../../results/migrate.js'
import pLimit from 'p-limit'

import type {AwsContext} from '../aws.js'
import {EngagementIndex} from '../engagement-index.js'
import {notFound} from '../errors.js'
import {migrationKeys, validateEngagementId} from '../layout.js'
import {LocalCopyEngine} from './copy.js'
import {EvidenceWriter, readEvidence, readSummaries, segmentName, writeSummary} from './evidence.js'
import {latePass} from './sync.js'
import {verifyMigratedEngagement} from './verify.js'

export type {ReconcileOutcome} from '../../results/migrate.js'

export async function reconcileMigration(
  context: AwsContext,
  sharedBucket: string,
  engagementId: string,
  options: {concurrency?: number; toolVersion?: string; now?: () => Date} = {},
): Promise<ReconcileOutcome> {
  validateEngagementId(engagementId)
  const now = options.now ?? (() => new Date())
  const record = await new EngagementIndex(context.s3, sharedBucket).get(engagementId)
  if (!record.source_bucket)
    throw notFound(`${engagementId} is not migrated (it uses the shared bucket); there is nothing to reconcile`)
  const {s3} = context
  const owner = await context.accountId()
  // The new summary names its operator: looked up before anything is copied.
  const operator = await context.callerArn()
  const bucket = record.source_bucket
  const location = {bucket, expectedOwner: owner, engagementId}
  const previous = await readSummaries(s3, location)
  if (previous.length === 0)
    throw notFound(
      `${engagementId} has no migration evidence in ${bucket}; --reconcile needs the record of what was copied`,
    )

  const startedAt = now()
  const runId = migrationKeys.newRunId(startedAt)
  const engine = new LocalCopyEngine(s3, {sourceBucket: sharedBucket, targetBucket: bucket, owner})
  const writer = new EvidenceWriter(s3, location, runId, segmentName(1, 'late'))
  let late
  try {
    late = await latePass(
      {s3, sourceBucket: sharedBucket, targetBucket: bucket, engagementId, owner, evidence: readEvidence(s3, location)},
      {engine, record: (line) => writer.append(line), limit: pLimit(options.concurrency ?? 16)},
    )
  } finally {
    await writer.finish()
  }
  const verified = await verifyMigratedEngagement(context, sharedBucket, record)
  const last = previous.at(-1)!
  await writeSummary(s3, location, {
    ...last,
    run_id: runId,
    tool_version: options.toolVersion ?? 'unknown',
    operator_arn: operator,
    started_at: startedAt.toISOString(),
    finished_at: now().toISOString(),
    copied: 0,
    proven: 0,
    removed: 0,
    verification: {
      result: verified.status === 'verification_failed' ? 'failed' : 'passed',
      checked_at: now().toISOString(),
      differences: verified.differences.length,
    },
    index_etag_before: null,
    index_etag_after: null,
    // A run stopped between the switch and its last summary never said when it switched: the
    // time the record is found switched stands for it — never earlier than the real switch, so
    // purge-source's --min-age counts from it conservatively.
    flipped_at: previous.some((summary) => summary.flipped_at) ? null : now().toISOString(),
    late_writes: late.copied,
    late_write_conflicts: late.conflictCount,
    segments: [writer.segment],
    // This run ran no deep checks; the earlier run's must not read as its own.
    deep_checks: null,
  })
  return {...verified, reconciled: late.copied, conflicts: late.conflicts.map((conflict) => conflict.key)}
}
