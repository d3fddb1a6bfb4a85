/** The `--json` results of `migrate` and its subcommands. */
import type {BatchRolePolicies} from '../lib/migrate/batch/policy.js'
import type {DeepChecks} from '../lib/migrate/deep-check.js'
import type {BulkOutcome} from '../lib/migrate/engine.js'
import type {EvidenceReport} from '../lib/migrate/evidence-report.js'
import type {PurgeRefusal, PurgeReport} from '../lib/migrate/purge.js'
import type {Reported} from './common.js'

/** What kind of difference verification found. */
export type DifferenceKind =
  // --execute, comparing the target with the source and the evidence of this run
  | 'missing'
  | 'changed_in_source'
  | 'size_differs'
  | 'not_the_copied_version'
  | 'not_in_source'
  | 'archived'
  // --verify-only against the evidence
  | 'migrated_version_missing'
  | 'late_write'
  // --verify-only of a migration from before evidence
  | 'missing_in_target'
  | 'content_differs'
  | 'unproven'
  | 'not_migrated'
  // --checksums and --content-sample
  | 'checksum_differs'
  | 'target_version_missing'

/**
 * One verification difference. `source` and `target` say what each side holds, as text: an ETag,
 * a version id, a size (`1024 B`), a checksum (`CRC64NVME FULL_OBJECT …`), a SHA-256; null for a
 * side that holds nothing (or is not what differs). `detail` is the explanation the text view
 * prints after the key.
 */
export interface VerificationDifference {
  /** The object key; null for a difference of the whole engagement (`not_migrated`). */
  key: string | null
  kind: DifferenceKind
  source: string | null
  target: string | null
  detail: string | null
}

export type MigrationStatus =
  'planned' | 'migrated' | 'already_migrated' | 'verified' | 'verification_failed' | 'failed'

/** One engagement of a plan or an `--execute` run. */
export interface EngagementOutcome {
  engagement_id: string
  target_bucket: string
  objects: number
  bytes: number
  status: MigrationStatus
  copied: number
  skipped_existing: number
  /** With status `verification_failed`: the differences (at most 1000 listed). */
  differences?: VerificationDifference[]
  /** Differences found beyond those listed. */
  unlisted_differences?: number
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

/** One engagement of a plan or an `--execute` run in the `--json` document: every field present, null when it does not apply. */
export type ReportedEngagementOutcome = {
  [K in keyof EngagementOutcome]-?:
    Exclude<EngagementOutcome[K], undefined> | (undefined extends EngagementOutcome[K] ? null : never)
}

/** One engagement of `--verify-only`. */
export interface VerifyOutcome {
  engagement_id: string
  target_bucket: string
  objects: number
  bytes: number
  /**
   * `no_migration`: nothing was ever migrated (no evidence, and the shared bucket holds none of
   * the engagement's keys: created in its own bucket), so there is nothing to verify.
   */
  status: 'verified' | 'verification_failed' | 'no_migration'
  /** The differences (at most 1000 listed, and those of the deep checks). */
  differences: VerificationDifference[]
  /** Differences found beyond those listed. */
  unlisted_differences: number
  /** The evidence run verified against; null for a migration from before evidence (compared as it stands). */
  evidence_run: string | null
  /** Information: keys the application has written in the engagement's bucket since the migration. */
  changed_since_migration: number
  new_in_target: number
  /** Keys written to the shared bucket after the migration: `migrate --reconcile` copies them. */
  late_writes: number
  /** Without evidence: objects that nothing proved (a difference each); always 0 with evidence. */
  unproven: number
  /** `--checksums` and `--content-sample`; null when neither was asked for. */
  deep_checks: DeepChecks | null
  /** The key of the verification record written for the deep checks; null when none was written. */
  verification_record: string | null
  /** What to run next, when there is something to say (unproven objects). */
  suggestion: string | null
}

/** One engagement of `--reconcile`. */
export interface ReconcileOutcome extends VerifyOutcome {
  /** Late writes copied now. */
  reconciled: number
  /** Late writes not copied: the engagement's bucket had moved on from the migrated version. */
  conflicts: string[]
}

/** Whether the shared bucket could be listed: AccessDenied and NoSuchBucket leave no plan (exit 0 unless --strict). */
export type SourceStatus = 'ok' | 'access_denied' | 'no_such_bucket'

/** The report of `migrate` in every mode, before its status and error are settled. */
export interface MigrationReport {
  source_bucket: string
  status: SourceStatus
  mode: 'plan' | 'execute' | 'verify' | 'reconcile'
  engagements: (ReportedEngagementOutcome | VerifyOutcome | ReconcileOutcome)[]
  /**
   * Over the engagements listed, those already migrated left out. `copied`: what this run copied
   * (objects with --execute, the late writes copied with --reconcile; 0 for a plan or --verify-only).
   */
  totals: {engagements: number; objects: number; bytes: number; copied: number; skipped_existing: number}
}

/**
 * `migrate`: `status` is `ok`, `access_denied` or `no_such_bucket` (no plan, exit 0) when it
 * succeeds, else the failure's code: `access_denied` or `no_such_bucket` with --strict (exit 1),
 * `verification_failed` (exit 4), `migration_failed` (1), `migration_refused` (5),
 * `migration_conflict` (6), `interrupted` (130: Ctrl-C; `engagements` holds those settled before it).
 */
export interface MigrateResult
  extends
    Omit<MigrationReport, 'status'>,
    Reported<
      | SourceStatus
      | 'verification_failed'
      | 'migration_failed'
      | 'migration_refused'
      | 'migration_conflict'
      | 'interrupted'
    > {}

/**
 * `migrate purge-source`: `status` is `would_purge` or `nothing_to_purge` (exit 0), or `purged`
 * after --execute (exit 0); otherwise the failure's code, which `error.code` repeats: a refusal,
 * of --execute or the one a dry run finds --execute would make (`not_migrated`,
 * `unversioned_source`, `no_evidence`, `evidence_mismatch`, `too_young`, `record_changed`: exit 5;
 * `verification_failed`, `written_after_switch`: exit 4), or `late_writes_left` when --execute
 * left versions written during the purge (exit 4). Every check stays in the document beside it.
 */
export type MigratePurgeSourceResult = Omit<PurgeReport, 'status'> &
  Reported<Exclude<PurgeReport['status'], 'refused'> | PurgeRefusal['code'] | 'late_writes_left'>

/** `migrate rollback`. */
export interface MigrateRollbackResult {
  engagement_id: string
  /** The bucket the record pointed at; null when it already used the shared bucket. */
  previous_source_bucket: string | null
  /** Always "" (the shared bucket), as the record stores it. */
  source_bucket: ''
  /** Objects in the engagement's bucket that the shared bucket lacks or holds older (the first 1000). */
  newer_in_bucket: string[]
}

/** `migrate evidence`. */
export type MigrateEvidenceResult = EvidenceReport

/** `migrate batch-role`. */
export type MigrateBatchRoleResult = BatchRolePolicies
