/** Outcomes of a migration run, its `--json` document and its exit code. */
import type {EngagementRecord} from '../engagement-index.js'
import {ExitCode} from '../errors.js'
import type {DeepChecks} from './deep-check.js'
import type {BulkOutcome} from './engine.js'
import type {EngagementPlan, SourceStatus} from './plan.js'
import type {VerifyOutcome} from './verify.js'

export type MigrationStatus = 'planned' | 'migrated' | 'already_migrated' | 'verified' | 'verification_failed' | 'failed'

export interface EngagementOutcome {
  engagement_id: string
  target_bucket: string
  objects: number
  bytes: number
  status: MigrationStatus
  copied: number
  skipped_existing: number
  differences?: string[]
  error?: string
  /** The error's stable code (`batch_job_active`: refused while an earlier run's job is still active). */
  error_code?: string
  /** The evidence run this execution wrote (`auditforge migrate evidence`). */
  run_id?: string
  /** Late writes copied after the flip, and the keys of those not copied (the target had moved on). */
  late_writes?: number
  late_write_conflicts?: string[]
  /** `--checksums` / `--content-sample`, when asked for and identity verification passed. */
  deep_checks?: DeepChecks
  /** `--engine batch` (or `auto` choosing it): the Batch Operations job and what the local engine copied beside it. */
  batch?: BulkOutcome
  /** Bucket controls provisioning did not apply because they do not apply here, and why. */
  skipped_controls?: {control: string; reason: string}[]
}


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

/** The `--json` document of `auditforge migrate`, in every mode. */
export interface MigrationReport {
  source_bucket: string
  status: SourceStatus
  mode: 'plan' | 'execute' | 'verify' | 'reconcile'
  engagements: (EngagementOutcome | VerifyOutcome)[]
  totals: {engagements: number; objects: number; bytes: number; copied: number; skipped_existing: number}
}

/** The report with its totals; engagements already migrated are listed but not counted. */
export function migrationReport(
  sourceBucket: string,
  status: SourceStatus,
  mode: MigrationReport['mode'],
  engagements: (EngagementOutcome | VerifyOutcome)[],
): MigrationReport {
  const counted = engagements.filter((outcome) => outcome.status !== 'already_migrated')
  const add = (value: (outcome: EngagementOutcome | VerifyOutcome) => number) => counted.reduce((total, outcome) => total + value(outcome), 0)
  return {
    source_bucket: sourceBucket,
    status,
    mode,
    engagements,
    totals: {
      engagements: counted.length,
      objects: add((outcome) => outcome.objects),
      bytes: add((outcome) => outcome.bytes),
      copied: add((outcome) => ('copied' in outcome ? outcome.copied : 0)),
      skipped_existing: add((outcome) => ('skipped_existing' in outcome ? outcome.skipped_existing : 0)),
    },
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
  if (failed.length > 0 && failed.every((outcome) => outcome.error_code === 'batch_job_active' || held(outcome.error_code))) return ExitCode.refused
  if (failed.length > 0) return ExitCode.failed
  return ExitCode.ok
}

