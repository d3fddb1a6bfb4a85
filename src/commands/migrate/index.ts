import {Flags} from '@oclif/core'

import {AuditforgeCommand} from '../../base-command.js'
import {AuditforgeError, invalidInput} from '../../lib/errors.js'
import {bucketProvisionFlags} from '../../flags/bucket-controls.js'
import {validateEngagementId} from '../../lib/layout.js'
import {
  type EngagementOutcome,
  type VerifyOutcome,
  alreadyMigrated,
  autoThreshold,
  createBatchEngine,
  engineChoices,
  executeMigration,
  maxContentSample,
  migrationFailure,
  migrationReport,
  noPlanFailure,
  planMigration,
  reconcileMigration,
  resolveEngine,
  plannedOutcome,
  verifyMigrations,
  wantsDeepChecks,
} from '../../lib/migrate/index.js'
import type {MigrateResult} from '../../results/migrate.js'
import {
  renderBatch,
  renderDeepChecks,
  renderDifferences,
  renderOutcomes,
  renderPlan,
  renderVerification,
} from '../../ui/migration.js'
import {plural} from '../../ui/format.js'
import {MigrationRun} from '../../ui/migration-run.js'
import {createProgressDisplay, exitOnInterrupt, shellCommand} from '../../ui/progress.js'

export default class Migrate extends AuditforgeCommand<typeof Migrate, MigrateResult> {
  static override summary = 'Move engagements out of the shared bucket into their own buckets (dry-run by default).'
  static override description = `Without --execute nothing is changed: for every engagement still in the shared bucket (or the one named) it lists exactly that engagement's objects and prints the plan.

With --execute (after a y/N question, or --yes; exit 5 without a terminal and without --yes) each engagement's bucket is provisioned with every control and bound to this index; every object not already proven in it is server-side copied, pinned to the source ETag it was listed with and conditional on the target (content type, user metadata, tags and storage class kept; a CRC64NVME checksum stored; objects over 5 GiB part by part); keys that left the source are removed from it. Each copy is recorded as evidence (source and target identity, checksum) under auditforge/migrations/<id>/ in the engagement's bucket. Verification is by identity, never by size alone: every source key must still be what was copied, and the target must hold exactly the versions the copies wrote and nothing else. The run's summary, verification included, is stored before the record points at the new bucket (a conditional write); writes that reach the source between the last listing and the switch are copied after it when the target still holds the migrated version. A mismatch exits 4 and leaves the record untouched. The source is never deleted or modified; an interrupted run is completed by running it again, and an engagement already migrated is left alone. One run per engagement at a time: each run holds a lease on the engagement (auditforge/leases/migrate-<id>.json in the shared bucket) while it copies and switches; another run meanwhile is refused for it (exit 6), and a killed run's lease is taken over at once on the same host, or after 5 minutes without renewal.

--verify-only verifies migrated engagements against their evidence without copying: every migrated version must still be in the engagement's bucket and the shared bucket unchanged since the copy (what the application wrote since is reported, not a difference); exit 4 on a difference. An engagement migrated before evidence existed is compared as both buckets stand, and an object there is proven only by equal single-part MD5 ETags of objects that are not SSE-KMS, by --checksums or by --content-sample: any other object (multipart, SSE-KMS) is reported as unproven, exit 4, never accepted on its size. An engagement created in its own bucket (no evidence, none of its keys in the shared bucket) is reported as no_migration ("no migration"), exit 0: there is no copy to verify.

Deep checks, with --execute or --verify-only: --checksums compares the full-object checksums S3 stored with both sides of every migrated object (HeadObject pinned to the versions in the evidence); equal checksums are equal bytes, a difference exits 4. Objects whose sides cannot be compared (no stored checksum, different algorithms, a composite checksum) are counted and listed with the reason and do not fail the check. --content-sample N (1 to ${maxContentSample}) downloads N objects drawn uniformly at random from both sides, pinned to the same versions, and compares the SHA-256 of their bytes; a difference exits 4. On --execute they run once identity verification has passed and before the switch, so a failure leaves the record untouched; their results are in the run's summary. On --verify-only they are stored as a verification record under auditforge/migrations/<id>/verifications/. \`auditforge migrate evidence ID\` shows both.

Engines, with --execute: --engine local (default) copies in this process. --engine batch hands each engagement's copy to one S3 Batch Operations job (S3PutObjectCopy from a manifest written under auditforge/batch-operations/<id>/ in the shared bucket, pinned to the listed source versions, CRC64NVME, metadata and tags copied, a completion report of every task to --report-bucket or the shared bucket), run as the role given with --role-arn or AUDITFORGE_BATCH_ROLE_ARN (\`auditforge migrate batch-role\` prints its policies); objects over 5 GiB, objects that are not STANDARD and objects without a version id stay with the local engine in the same run, failed tasks are retried once by it, and the report becomes the same evidence, verification and switch as the local engine's. A run interrupted while a job runs finds that job again and never creates a second one. A job that is suspended, failed or cancelled is an error naming the job (exit 1); the record is untouched. --engine auto uses Batch Operations for engagements of a million objects or 10 TiB or more (AUDITFORGE_BATCH_AUTO_OBJECTS changes the count) when a role is configured, and the local engine otherwise.

--reconcile copies an engagement's late writes where its bucket still holds the migrated version. \`auditforge migrate evidence ID\` prints a run's evidence. AccessDenied or NoSuchBucket on the shared bucket: a message on stderr, nothing changed, exit 0 (seed 001's non-destructive failure mode); with --strict the same is an error, exit 1, so a pipeline with a mistyped shared bucket fails instead of going green.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --engagement-id eng-6715f196fa40',
    '<%= config.bin %> <%= command.id %> --engagement-id eng-6715f196fa40 --execute',
    '<%= config.bin %> <%= command.id %> --execute --yes --concurrency 32',
    '<%= config.bin %> <%= command.id %> --execute --yes --strict --json',
    '<%= config.bin %> <%= command.id %> --engagement-id eng-6715f196fa40 --verify-only --json',
    '<%= config.bin %> <%= command.id %> --engagement-id eng-6715f196fa40 --reconcile --yes',
    '<%= config.bin %> <%= command.id %> --engagement-id eng-6715f196fa40 --execute --checksums --content-sample 50',
    '<%= config.bin %> <%= command.id %> --verify-only --checksums --content-sample 20 --json',
    '<%= config.bin %> <%= command.id %> --execute --yes --engine batch --role-arn arn:aws:iam::741783034843:role/auditforge-batch',
  ]

  static override flags = {
    'engagement-id': Flags.string({summary: 'Only this engagement.'}),
    execute: Flags.boolean({
      summary: 'Copy, verify and update the records (otherwise: plan only).',
      exclusive: ['verify-only'],
    }),
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation before --execute.'}),
    'verify-only': Flags.boolean({summary: 'Verify migrated engagements against their evidence; copy nothing.'}),
    reconcile: Flags.boolean({
      summary: 'Copy late writes of a migrated engagement where its bucket still holds the migrated version.',
      exclusive: ['execute', 'verify-only'],
      dependsOn: ['engagement-id'],
    }),
    strict: Flags.boolean({
      summary:
        'Exit 1 instead of 0 when AccessDenied or NoSuchBucket on the shared bucket leaves no plan (for CI pipelines).',
    }),
    concurrency: Flags.integer({summary: 'Copies in flight at once.', default: 16, min: 1, max: 256}),
    checksums: Flags.boolean({
      summary:
        'With --execute or --verify-only: compare the stored full-object checksums of both sides of every migrated object.',
    }),
    'content-sample': Flags.integer({
      summary:
        'With --execute or --verify-only: compare the SHA-256 of N objects drawn at random, downloaded from both sides.',
      helpValue: 'N',
      min: 1,
      max: maxContentSample,
    }),
    engine: Flags.string({
      summary:
        'With --execute: copy in this process (local), with an S3 Batch Operations job (batch), or batch for large engagements (auto). Default local.',
      options: [...engineChoices],
    }),
    'role-arn': Flags.string({
      summary: 'The IAM role S3 Batch Operations copies as (--engine batch/auto). Env: AUDITFORGE_BATCH_ROLE_ARN.',
    }),
    'report-bucket': Flags.string({
      summary: 'Bucket for the Batch Operations completion reports (default: the shared bucket).',
    }),
    progress: Flags.option({
      options: ['auto', 'ndjson'] as const,
      default: 'auto' as const,
      summary:
        'With --execute: progress for people on stderr (auto), or one JSON object per progress event on stderr (ndjson), also under --json.',
    })(),
    ...bucketProvisionFlags,
  }

  public async run(): Promise<MigrateResult> {
    const {flags} = this
    const engagementId = flags['engagement-id'] === undefined ? undefined : validateEngagementId(flags['engagement-id'])
    const deepChecks = {checksums: flags.checksums, contentSample: flags['content-sample']}
    if (wantsDeepChecks(deepChecks) && (flags.reconcile || (!flags.execute && !flags['verify-only']))) {
      throw invalidInput('--checksums and --content-sample check a migration: use them with --execute or --verify-only')
    }
    const engine = resolveEngine({
      engine: flags.engine,
      'role-arn': flags['role-arn'],
      'report-bucket': flags['report-bucket'],
      execute: flags.execute,
    })
    if (flags.execute) this.assertCanConfirm(flags.yes)
    const sharedBucket = this.sharedBucket
    const context = await this.aws()

    if (flags.reconcile) {
      this.assertCanConfirm(flags.yes)
      await this.confirm(
        `Copy the late writes of ${engagementId} into its bucket where it still holds the migrated version?`,
        flags.yes,
      )
      this.spinner.start(`Reconciling ${engagementId}`)
      const outcome = await reconcileMigration(context, sharedBucket, engagementId!, {
        concurrency: flags.concurrency,
        toolVersion: this.config.version,
      })
      this.spinner.stop()
      this.note(`Copied ${plural(outcome.reconciled, 'late write')} of ${engagementId}.`)
      if (outcome.conflicts.length > 0)
        this.warning(
          `${plural(outcome.conflicts.length, 'late write')} not copied: the engagement's bucket has changed since`,
          outcome.conflicts.slice(0, 20),
        )
      return this.verified(sharedBucket, 'reconcile', [outcome])
    }

    if (flags['verify-only']) {
      this.spinner.start('Comparing migrated engagements with the shared bucket')
      const outcomes = await verifyMigrations(context, sharedBucket, engagementId, {
        ...deepChecks,
        concurrency: flags.concurrency,
        toolVersion: this.config.version,
      })
      this.spinner.stop()
      return this.verified(sharedBucket, 'verify', outcomes)
    }

    this.spinner.start(`Planning: listing engagements in ${sharedBucket}`)
    const plan = await planMigration(context, sharedBucket, {engagementId, concurrency: flags.concurrency})
    this.spinner.stop()
    if (plan.status !== 'ok') {
      const report = migrationReport(sharedBucket, plan.status, flags.execute ? 'execute' : 'plan', [])
      // --strict: the same document, failing (exit 1) with what to check; otherwise seed 001's warning and exit 0.
      if (flags.strict)
        return this.finish<MigrateResult>(
          report,
          noPlanFailure(plan.status, `${plan.message}. No plan was made and nothing was changed`),
        )
      this.warning(`${plan.message}. No plan was made and nothing was changed.`)
      return this.finish<MigrateResult>(report)
    }
    if (plan.invalidIds.length > 0) {
      this.warning(
        `Skipped index entries with ids auditforge does not accept: ${plan.invalidIds
          .slice(0, 5)
          .map((id) => JSON.stringify(id))
          .join(', ')}`,
      )
    }
    const planned = [
      ...plan.alreadyMigrated.map((record) => alreadyMigrated(record)),
      ...plan.engagements.map((engagement) => plannedOutcome(engagement)),
    ]
    if (!this.jsonEnabled()) this.log(renderPlan(sharedBucket, planned))
    if (!flags.execute) {
      this.note(
        plan.engagements.length > 0
          ? 'Dry run: nothing was changed. Run again with --execute to migrate.'
          : 'Nothing to migrate.',
      )
      return this.finish<MigrateResult>(migrationReport(sharedBucket, 'ok', 'plan', planned))
    }
    if (plan.engagements.length === 0) {
      this.note('Nothing to migrate.')
      return this.finish<MigrateResult>(migrationReport(sharedBucket, 'ok', 'execute', planned))
    }

    // Every engagement's lease and evidence name the operator: an STS that cannot be reached
    // fails the run here, before the question and before anything is touched.
    await context.callerArn()
    await this.confirm(
      plan.engagements.length === 1
        ? `Copy 1 engagement into its own bucket and point its record there?`
        : `Copy ${plural(plan.engagements.length, 'engagement')} into their own buckets and point their records there?`,
      flags.yes,
    )
    const progress = createProgressDisplay(!this.jsonEnabled(), {format: flags.progress})
    // Re-running the same command resumes: it copies only what is missing.
    const run = new MigrationRun(plan.engagements.length)
    const resume = shellCommand([this.config.bin, ...(this.id ?? 'migrate').split(':'), ...this.argv])
    const stopHandlingInterrupt = exitOnInterrupt(progress, resume, {
      ndjson: flags.progress === 'ndjson',
      state: () => run.state(),
      // Under --json stdout still gets its one document: what settled before Ctrl-C, status `interrupted`.
      report: ({line, resume: again, exit}) => {
        if (!this.jsonEnabled()) return
        const interrupted = new AuditforgeError(line, {code: 'interrupted', exit, suggestion: again})
        this.logJson(
          this.finish<MigrateResult>(migrationReport(sharedBucket, 'ok', 'execute', run.outcomes), interrupted),
        )
      },
    })
    if (engine.note) this.note(engine.note)
    const bulk = engine.roleArn
      ? createBatchEngine(context, sharedBucket, {
          choice: engine.engine === 'auto' ? 'auto' : 'batch',
          roleArn: engine.roleArn,
          reportBucket: engine.reportBucket,
          ...(engine.autoObjects === undefined ? {} : {autoThreshold: {...autoThreshold, objects: engine.autoObjects}}),
        })
      : undefined
    const outcomes = await executeMigration(context, plan, {
      concurrency: flags.concurrency,
      toolVersion: this.config.version,
      ...deepChecks,
      bulk,
      onProgress: ({job, ...snapshot}) => {
        run.seen(snapshot.engagementId, snapshot.phase)
        const detail = [run.detail, job && `S3 Batch Operations job ${job.jobId}: ${job.status}`].filter(Boolean)
        progress.update({
          ...snapshot,
          label: 'Migrating',
          detail: detail.length > 0 ? detail.join(', ') : undefined,
          failed: job?.failed,
          remainingSeconds: job?.remainingSeconds,
        })
      },
      onEngagementDone: (outcome) => run.done(outcome),
    })
    stopHandlingInterrupt()
    progress.done()
    if (!this.jsonEnabled()) this.log(renderOutcomes(outcomes))
    for (const outcome of outcomes) if (outcome.batch) this.note(renderBatch(outcome.engagement_id, outcome.batch))
    for (const outcome of outcomes) if (outcome.error) this.warning(`${outcome.engagement_id}: ${outcome.error}`)
    // Under --json the document carries them (`skipped_controls`).
    for (const outcome of this.jsonEnabled() ? [] : outcomes) {
      for (const skipped of outcome.skipped_controls ?? [])
        this.warning(
          `${outcome.engagement_id}: ${skipped.control} was not applied to ${outcome.target_bucket}: ${skipped.reason}`,
        )
    }
    for (const outcome of outcomes) {
      if (outcome.late_write_conflicts?.length) {
        this.warning(
          `${outcome.engagement_id}: ${plural(outcome.late_write_conflicts.length, 'key')} ${outcome.late_write_conflicts.length === 1 ? 'was' : 'were'} written to the shared bucket after the switch, and the engagement bucket has changed since; not copied`,
          outcome.late_write_conflicts.slice(0, 20),
        )
      }
    }
    return this.finish<MigrateResult>(
      migrationReport(sharedBucket, 'ok', 'execute', outcomes),
      this.reportDifferences(outcomes),
    )
  }

  /** Renders verification outcomes (the table, then the differences) and finishes with their exit code. */
  private verified(sharedBucket: string, mode: 'verify' | 'reconcile', outcomes: VerifyOutcome[]): MigrateResult {
    if (!this.jsonEnabled()) this.log(renderVerification(outcomes))
    return this.finish<MigrateResult>(
      migrationReport(sharedBucket, 'ok', mode, outcomes),
      this.reportDifferences(outcomes),
    )
  }

  /**
   * Notes each engagement's deep checks and what to run next, lists its verification differences
   * on stderr, and returns the failure when any engagement failed verification or failed otherwise
   * (a non-zero exit always says why: finish() prints it as the `Error:` line).
   */
  private reportDifferences(outcomes: (EngagementOutcome | VerifyOutcome)[]): AuditforgeError | undefined {
    for (const outcome of outcomes)
      for (const line of renderDeepChecks(outcome.engagement_id, outcome.deep_checks)) this.note(line)
    const failed = outcomes.filter((outcome) => outcome.status === 'verification_failed')
    for (const outcome of failed)
      this.warning(
        ...renderDifferences(outcome.engagement_id, outcome.differences ?? [], outcome.unlisted_differences ?? 0),
      )
    for (const outcome of outcomes)
      if ('suggestion' in outcome && outcome.suggestion) this.note(`${outcome.engagement_id}: ${outcome.suggestion}`)
    return migrationFailure(outcomes)
  }
}
