/** Outcomes of a migration run, its `--json` document and its exit code. */
import type {EngagementRecord} from '../engagement-index.js'
import {ExitCode} from '../errors.js'
import type {
  EngagementOutcome,
  MigrationReport,
  ReconcileOutcome,
  ReportedEngagementOutcome,
  SourceStatus,
  VerifyOutcome,
} from '../../results/migrate.js'
import type {EngagementPlan} from './plan.js'

export type {EngagementOutcome, MigrationReport, MigrationStatus} from '../../results/migrate.js'

export function plannedOutcome(engagement: EngagementPlan): EngagementOutcome {
  return {
    engagement_id: engagement.engagementId,
    target_bucket: engagement.targetBucket,
    objects: engagement.objects,
    bytes: engagement.bytes,
    status: 'planned',
    copied: 0,
    skipped_existing: 0,
  }
}

export function alreadyMigrated(record: EngagementRecord): EngagementOutcome {
  return {
    engagement_id: record.engagement_id,
    target_bucket: record.source_bucket,
    objects: 0,
    bytes: 0,
    status: 'already_migrated',
    copied: 0,
    skipped_existing: 0,
  }
}

/**
 * The report with its totals; engagements already migrated are listed but not counted. `copied`
 * counts what this run copied: objects of `--execute`, late writes of `--reconcile`.
 */
export function migrationReport(
  sourceBucket: string,
  status: SourceStatus,
  mode: MigrationReport['mode'],
  engagements: (EngagementOutcome | VerifyOutcome | ReconcileOutcome)[],
): MigrationReport {
  const counted = engagements.filter((outcome) => outcome.status !== 'already_migrated')
  const add = (value: (outcome: EngagementOutcome | VerifyOutcome | ReconcileOutcome) => number) =>
    counted.reduce((total, outcome) => total + value(outcome), 0)
  return {
    source_bucket: sourceBucket,
    status,
    mode,
    engagements: engagements.map((outcome) => ('evidence_run' in outcome ? outcome : reported(outcome))),
    totals: {
      engagements: counted.length,
      objects: add((outcome) => outcome.objects),
      bytes: add((outcome) => outcome.bytes),
      // --reconcile's copies are the late writes it copied.
      copied: add((outcome) =>
        'copied' in outcome ? outcome.copied : 'reconciled' in outcome ? outcome.reconciled : 0,
      ),
      skipped_existing: add((outcome) => ('skipped_existing' in outcome ? outcome.skipped_existing : 0)),
    },
  }
}

/** An `--execute` or plan outcome with every field present: null where it does not apply. */
function reported(outcome: EngagementOutcome): ReportedEngagementOutcome {
  return {
    ...outcome,
    differences: outcome.differences ?? null,
    unlisted_differences: outcome.unlisted_differences ?? null,
    error: outcome.error ?? null,
    error_code: outcome.error_code ?? null,
    run_id: outcome.run_id ?? null,
    late_writes: outcome.late_writes ?? null,
    late_write_conflicts: outcome.late_write_conflicts ?? null,
    deep_checks: outcome.deep_checks ?? null,
    batch: outcome.batch ?? null,
    skipped_controls: outcome.skipped_controls ?? null,
  }
}

/** 4 when any engagement failed verification, else 1 when any failed otherwise, else 0. */
export function migrationExitCode(outcomes: readonly {status: string; error_code?: string}[]): 0 | 1 | 4 | 5 | 6 {
  if (outcomes.some((outcome) => outcome.status === 'verification_failed')) return ExitCode.verificationFailed
  const failed = outcomes.filter((outcome) => outcome.status === 'failed')
  // Another run holds the engagement (or took it over), and nothing else failed: a conflict.
  const held = (code?: string) => code === 'migration_in_progress' || code === 'migration_lease_lost'
  if (failed.length > 0 && failed.every((outcome) => held(outcome.error_code))) return ExitCode.conflict
  // Refused for safety (an earlier run's job still active, or another run holding some), and nothing else failed.
  if (
    failed.length > 0 &&
    failed.every((outcome) => outcome.error_code === 'batch_job_active' || held(outcome.error_code))
  )
    return ExitCode.refused
  if (failed.length > 0) return ExitCode.failed
  return ExitCode.ok
}
