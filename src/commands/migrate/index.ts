import {Flags} from '@oclif/core'

import {AuditforgeCommand} from '../../base-command.js'
import {bucketProvisionFlags} from '../../flags/bucket-controls.js'
import {validateEngagementId} from '../../lib/layout.js'
import {
  type EngagementOutcome,
  type MigrationReport,
  type VerifyOutcome,
  alreadyMigrated,
  executeMigration,
  migrationExitCode,
  migrationReport,
  planMigration,
  reconcileMigration,
  plannedOutcome,
  verifyMigrations,
} from '../../lib/migrate/index.js'
import {renderDifferences, renderOutcomes, renderPlan, renderVerification} from '../../ui/migration.js'
import {createProgressDisplay} from '../../ui/progress.js'

export default class Migrate extends AuditforgeCommand<typeof Migrate, MigrationReport> {
  static override summary = 'Move engagements out of the shared bucket into their own buckets (dry-run by default).'
  static override description = `Without --execute nothing is changed: for every engagement still in the shared bucket (or the one named) it lists exactly that engagement's objects and prints the plan.

With --execute (after a y/N question, or --yes; exit 5 without a terminal and without --yes) each engagement's bucket is provisioned with every control and bound to this index; every object not already proven in it is server-side copied, pinned to the source ETag it was listed with and conditional on the target (content type, user metadata, tags and storage class kept; a CRC64NVME checksum stored; objects over 5 GiB part by part); keys that left the source are removed from it. Each copy is recorded as evidence (source and target identity, checksum) under auditforge/migrations/<id>/ in the engagement's bucket. Verification is by identity, never by size alone: every source key must still be what was copied, and the target must hold exactly the versions the copies wrote and nothing else. The run's summary, verification included, is stored before the record points at the new bucket (a conditional write); writes that reach the source between the last listing and the switch are copied after it when the target still holds the migrated version. A mismatch exits 4 and leaves the record untouched. The source is never deleted or modified; an interrupted run is completed by running it again, and an engagement already migrated is left alone.

--verify-only verifies migrated engagements against their evidence without copying: every migrated version must still be in the engagement's bucket and the shared bucket unchanged since the copy (what the application wrote since is reported, not a difference); exit 4 on a difference. --reconcile copies an engagement's late writes where its bucket still holds the migrated version. \`auditforge migrate evidence ID\` prints a run's evidence. AccessDenied or NoSuchBucket on the shared bucket: a message on stderr, nothing changed, exit 0.`

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --engagement-id eng-6715f196fa40',
    '<%= config.bin %> <%= command.id %> --engagement-id eng-6715f196fa40 --execute',
    '<%= config.bin %> <%= command.id %> --execute --yes --concurrency 32',
    '<%= config.bin %> <%= command.id %> --engagement-id eng-6715f196fa40 --verify-only --json',
    '<%= config.bin %> <%= command.id %> --engagement-id eng-6715f196fa40 --reconcile --yes',
  ]

  static override flags = {
    'engagement-id': Flags.string({summary: 'Only this engagement.'}),
    execute: Flags.boolean({summary: 'Copy, verify and update the records (otherwise: plan only).', exclusive: ['verify-only']}),
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation before --execute.'}),
    'verify-only': Flags.boolean({summary: 'Verify migrated engagements against their evidence; copy nothing.'}),
    reconcile: Flags.boolean({
      summary: 'Copy late writes of a migrated engagement where its bucket still holds the migrated version.',
      exclusive: ['execute', 'verify-only'],
      dependsOn: ['engagement-id'],
    }),
    concurrency: Flags.integer({summary: 'Copies in flight at once.', default: 16, min: 1, max: 256}),
    ...bucketProvisionFlags,
  }

  public async run(): Promise<MigrationReport> {
    const {flags} = this
    const engagementId = flags['engagement-id'] === undefined ? undefined : validateEngagementId(flags['engagement-id'])
    if (flags.execute) this.assertCanConfirm(flags.yes)
    const sharedBucket = this.sharedBucket
    const context = await this.aws()

    if (flags.reconcile) {
      this.assertCanConfirm(flags.yes)
      await this.confirm(`Copy the late writes of ${engagementId} into its bucket where it still holds the migrated version?`, flags.yes)
      this.spinner.start(`Reconciling ${engagementId}`)
      const outcome = await reconcileMigration(context, sharedBucket, engagementId!, {concurrency: flags.concurrency, toolVersion: this.config.version})
      this.spinner.stop()
      this.note(`Copied ${outcome.reconciled} late write(s) of ${engagementId}.`)
      if (outcome.conflicts.length > 0) this.warning(`${outcome.conflicts.length} late write(s) not copied: the engagement's bucket has changed since`, outcome.conflicts.slice(0, 20))
      return this.verified(sharedBucket, 'reconcile', [outcome])
    }

    if (flags['verify-only']) {
      this.spinner.start('Comparing migrated engagements with the shared bucket')
      const outcomes = await verifyMigrations(context, sharedBucket, engagementId)
      this.spinner.stop()
      return this.verified(sharedBucket, 'verify', outcomes)
    }

    this.spinner.start(`Planning: listing engagements in ${sharedBucket}`)
    const plan = await planMigration(context, sharedBucket, {engagementId, concurrency: flags.concurrency})
    this.spinner.stop()
    if (plan.status !== 'ok') {
      this.warning(`${plan.message}. No plan was made and nothing was changed.`)
      return migrationReport(sharedBucket, plan.status, flags.execute ? 'execute' : 'plan', [])
    }
    if (plan.invalidIds.length > 0) {
      this.warning(`Skipped index entries with ids auditforge does not accept: ${plan.invalidIds.slice(0, 5).map((id) => JSON.stringify(id)).join(', ')}`)
    }
    const planned = [...plan.alreadyMigrated.map((record) => alreadyMigrated(record)), ...plan.engagements.map((engagement) => plannedOutcome(engagement))]
    if (!this.jsonEnabled()) this.log(renderPlan(sharedBucket, planned))
    if (!flags.execute) {
      this.note(plan.engagements.length > 0 ? 'Dry run: nothing was changed. Run again with --execute to migrate.' : 'Nothing to migrate.')
      return migrationReport(sharedBucket, 'ok', 'plan', planned)
    }
    if (plan.engagements.length === 0) {
      this.note('Nothing to migrate.')
      return migrationReport(sharedBucket, 'ok', 'execute', planned)
    }

    await this.confirm(`Copy ${plan.engagements.length} engagement(s) into their own buckets and point their records there?`, flags.yes)
    const progress = createProgressDisplay(!this.jsonEnabled())
    const outcomes = await executeMigration(context, plan, {
      concurrency: flags.concurrency,
      toolVersion: this.config.version,
      onProgress: (snapshot) => progress.update({...snapshot, label: "Migrating"}),
    })
    progress.done()
    if (!this.jsonEnabled()) this.log(renderOutcomes(outcomes))
    for (const outcome of outcomes) if (outcome.error) this.warning(`${outcome.engagement_id}: ${outcome.error}`)
    for (const outcome of outcomes) {
      if (outcome.late_write_conflicts?.length) {
        this.warning(
          `${outcome.engagement_id}: ${outcome.late_write_conflicts.length} key(s) were written to the shared bucket after the switch, and the engagement bucket has changed since; they were not copied`,
          outcome.late_write_conflicts.slice(0, 20),
        )
      }
    }
    this.reportDifferences(outcomes)
    process.exitCode = migrationExitCode(outcomes)
    return migrationReport(sharedBucket, 'ok', 'execute', outcomes)
  }

  /** Renders verification outcomes (the table, then the differences) and sets the exit code. */
  private verified(sharedBucket: string, mode: 'verify' | 'reconcile', outcomes: VerifyOutcome[]): MigrationReport {
    if (!this.jsonEnabled()) this.log(renderVerification(outcomes))
    this.reportDifferences(outcomes)
    process.exitCode = migrationExitCode(outcomes)
    return migrationReport(sharedBucket, 'ok', mode, outcomes)
  }

  /**
   * Lists each engagement's verification differences on stderr, then one `Error:` line when any
   * engagement failed verification or failed otherwise (a non-zero exit always says why).
   */
  private reportDifferences(outcomes: (EngagementOutcome | VerifyOutcome)[]): void {
    const failed = outcomes.filter((outcome) => outcome.status === 'verification_failed')
    for (const outcome of failed) this.warning(...renderDifferences(outcome.engagement_id, outcome.differences ?? []))
    const broken = outcomes.filter((outcome) => outcome.status === 'failed').length
    const problems = [
      ...(failed.length > 0 ? [`${failed.length} engagement(s) failed verification`] : []),
      ...(broken > 0 ? [`${broken} engagement(s) failed to migrate; their records were not changed and running the command again finishes them`] : []),
    ]
    if (problems.length > 0) this.note(`Error: ${problems.join('; ')}.`)
  }


}
