import {Flags} from '@oclif/core'

import {AuditforgeCommand} from '../../base-command.js'
import {AuditforgeError, ExitCode} from '../../lib/errors.js'
import {validateEngagementId} from '../../lib/layout.js'
import type {MigratePurgeSourceResult} from '../../results/migrate.js'
import {
  type PurgeInspection,
  type PurgeOutcome,
  type PurgeProgress,
  PurgeStopped,
  defaultMinAge,
  inspectPurge,
  parseDuration,
  purgeReport,
  purgeSource,
  refusalError,
} from '../../lib/migrate/index.js'
import {plural} from '../../ui/format.js'
import {differenceText} from '../../ui/migration.js'
import {describePurgeOutcome, renderPurgeInspection} from '../../ui/purge.js'

export default class MigratePurgeSource extends AuditforgeCommand<typeof MigratePurgeSource, MigratePurgeSourceResult> {
  static override summary =
    "After the soak, remove a migrated engagement's objects from the shared bucket (dry-run by default)."
  static override description = `The clean-up after a migration has soaked: removes every version and delete marker of exactly the engagement's own keys from the shared bucket (nobody else's, never the index or other reserved keys). After it, the engagement's bucket holds the only copy and \`migrate rollback\` is refused.

Without --execute nothing is changed: it prints the checks and what would be removed (keys, versions, delete markers, bytes, the first keys). The checks, made before anything is deleted and in the dry run too: the record points at the engagement's own bucket; the migration evidence there shows a run out of this shared bucket that switched the record; that switch is at least --min-age ago (from the evidence, never from object dates; default ${defaultMinAge}; e.g. 30d, 12h, 90m, 0); and a fresh verification against the evidence passes now (every migrated version still in the engagement's bucket, no late write in the shared bucket: \`migrate --reconcile\` copies those).

With --execute (after a y/N question, or --yes; exit 5 without a terminal and without --yes) it lists every version into a purge record in the engagement's bucket under auditforge/migrations/<id>/purges/, verifies again, deletes by version id only what it listed (history first, current versions last), lists again and reports what is left (versions written during the purge are never deleted), appends migration.source_purged to the engagement's audit log and completes the record. An interrupted purge is recorded as such; running the command again lists what is left and finishes it. \`migrate evidence\` shows the purge.

Exit codes: 0 done, or nothing left to purge, or a dry run that would go ahead; 2 bad --min-age or id; 3 no such engagement; 4 the fresh verification failed, or versions were written to the shared bucket during the purge and were left; 5 refused for safety (not migrated, no evidence of the switch, evidence of another shared bucket, younger than --min-age, no --yes without a terminal). A dry run exits with the code --execute would refuse with.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --engagement-id eng-6715f196fa40',
    '<%= config.bin %> <%= command.id %> --engagement-id eng-6715f196fa40 --execute',
    '<%= config.bin %> <%= command.id %> --engagement-id eng-6715f196fa40 --execute --yes --min-age 45d --json',
  ]

  static override flags = {
    'engagement-id': Flags.string({
      required: true,
      summary: 'The migrated engagement whose shared-bucket copy to remove.',
    }),
    execute: Flags.boolean({summary: 'Remove the objects (otherwise: a dry run that changes nothing).'}),
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation before --execute.'}),
    'min-age': Flags.string({
      summary: "How long the record must have pointed at the engagement's bucket: 30d, 12h, 90m, 0.",
      default: defaultMinAge,
    }),
  }

  public async run(): Promise<MigratePurgeSourceResult> {
    const {flags} = this
    const id = validateEngagementId(flags['engagement-id'])
    const minAge = flags['min-age']
    const options = {
      minAge,
      minAgeMs: parseDuration(minAge),
      stopAtFirstRefusal: flags.execute,
      onProgress: (progress: PurgeProgress) => this.progress(id, progress),
    }
    if (flags.execute) this.assertCanConfirm(flags.yes)
    const sharedBucket = this.sharedBucket
    const context = await this.aws()

    this.spinner.start(`Checking ${id}`)
    const inspection = await inspectPurge(context, sharedBucket, id, options)
    this.spinner.stop()
    const mode = flags.execute ? 'execute' : 'dry_run'
    if (inspection.status === 'refused') return this.refused(inspection, mode)
    if (!this.jsonEnabled()) this.log(renderPurgeInspection(inspection))
    if (inspection.status === 'nothing_to_purge') {
      const last = inspection.last_purge
      this.note(
        `Nothing of ${id} is left in ${sharedBucket}${last ? `; it was purged at ${last.completed_at} (purge ${last.purge_id})` : ''}. Nothing was changed.`,
      )
      return this.finish<MigratePurgeSourceResult>(purgeReport(inspection, mode))
    }
    if (!flags.execute) {
      this.note('Dry run: nothing was changed. Run again with --execute to remove these versions.')
      return this.finish<MigratePurgeSourceResult>(purgeReport(inspection, 'dry_run'))
    }

    const removal = inspection.removal!
    await this.confirm(
      `Remove ${plural(removal.versions + removal.delete_markers, 'version')} of ${id} from ${sharedBucket} for good? (${inspection.bucket} keeps the only copy)`,
      flags.yes,
    )
    this.spinner.start(`Purging ${id}`)
    let outcome: PurgeOutcome
    try {
      outcome = await purgeSource(context, inspection, {...options, toolVersion: this.config.version})
    } catch (error) {
      if (!(error instanceof PurgeStopped)) throw error
      this.spinner.stop()
      const {refusal, verification} = error
      return this.refused({...inspection, status: 'refused', refusal, verification}, 'execute')
    }
    this.spinner.stop()
    this.note(describePurgeOutcome(id, sharedBucket, outcome))
    if (outcome.resumes.length > 0)
      this.note(
        `It finishes the interrupted ${outcome.resumes.length === 1 ? 'purge' : 'purges'} ${outcome.resumes.join(', ')}.`,
      )
    if (outcome.audit_event_error)
      this.warning(
        `The purge is done and recorded, but its audit-log event was not written: ${outcome.audit_event_error}`,
      )
    if (outcome.left.versions > 0) {
      this.warning(
        `${plural(outcome.left.versions, 'version')} of ${id} written to ${sharedBucket} during the purge were left there:`,
        outcome.left.first_keys,
      )
      const failure = new AuditforgeError(`The shared bucket still holds late writes of ${id}`, {
        code: 'late_writes_left',
        exit: ExitCode.verificationFailed,
        suggestion: `Copy them with \`auditforge migrate --reconcile --engagement-id ${id}\`, then run purge-source again.`,
      })
      return this.finish<MigratePurgeSourceResult>(purgeReport(inspection, 'execute', outcome), failure)
    }
    return this.finish<MigratePurgeSourceResult>(purgeReport(inspection, 'execute', outcome))
  }

  /**
   * A refusal, of --execute or the one a dry run finds --execute would make: the checks are the
   * document (a dry run prints them for a person too), the refusal its error, and the exit code
   * the refusal's.
   */
  private refused(inspection: PurgeInspection, mode: 'dry_run' | 'execute'): MigratePurgeSourceResult {
    if (mode === 'dry_run' && !this.jsonEnabled()) this.log(renderPurgeInspection(inspection))
    this.showDifferences(inspection)
    const failure = refusalError(inspection)
    const error =
      mode === 'execute'
        ? failure
        : new AuditforgeError(`--execute would refuse: ${failure.message}`, {
            code: failure.code,
            exit: failure.exit,
            suggestion: failure.suggestion,
          })
    return this.finish<MigratePurgeSourceResult>(purgeReport(inspection, mode), error)
  }

  private showDifferences(inspection: PurgeInspection): void {
    const {differences} = inspection.verification
    if (differences.length > 0)
      this.warning(
        `${inspection.engagement_id} differs from its migration evidence:`,
        differences.map((difference) => differenceText(difference)),
      )
  }

  private progress(id: string, {phase, done, total}: PurgeProgress): void {
    const what = {
      list: `listing versions (${done})`,
      verify: 'verifying against the migration evidence',
      delete: `deleting versions (${done}/${total})`,
      record: 'recording',
    }[phase]
    this.spinner.update(`${id}: ${what}`)
  }
}
