import {Flags} from '@oclif/core'

import {AuditforgeCommand} from '../../base-command.js'
import {EngagementIndex} from '../../lib/engagement-index.js'
import {validateEngagementId} from '../../lib/layout.js'
import type {MigrateRollbackResult} from '../../results/migrate.js'
import {assertRollbackPossible, rollbackMigration, rollbackRisk} from '../../lib/migrate/index.js'
import {plural} from '../../ui/format.js'

export default class MigrateRollback extends AuditforgeCommand<typeof MigrateRollback, MigrateRollbackResult> {
  static override summary = 'Point a migrated engagement back at the shared bucket.'
  static override description = `Sets the engagement's source_bucket back to "" (a conditional write of the index). Touches no object: the shared bucket still holds the data migrate copied (migrate never deletes), and the engagement's own bucket is left in place (decommission it separately). Objects written to the engagement's bucket since the migration are listed first, because after the rollback the application no longer sees them (judged against the migration's evidence: anything not the version the migration wrote; without evidence, anything that is not a single-part object with the same MD5 ETag in the shared bucket).

Refused (exit 5) once \`auditforge migrate purge-source\` has removed the engagement's data from the shared bucket, even partly: the shared bucket no longer holds it.

Asks y/N on a terminal; --yes skips the question; without a terminal and without --yes it refuses (exit 5).`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --engagement-id eng-6715f196fa40',
    '<%= config.bin %> <%= command.id %> --engagement-id eng-6715f196fa40 --yes --json',
  ]

  static override flags = {
    'engagement-id': Flags.string({required: true, summary: 'The engagement to roll back.'}),
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation.'}),
  }

  public async run(): Promise<MigrateRollbackResult> {
    const id = validateEngagementId(this.flags['engagement-id'])
    this.assertCanConfirm(this.flags.yes)
    const sharedBucket = this.sharedBucket
    const context = await this.aws()
    const record = await new EngagementIndex(context.s3, sharedBucket).get(id)
    if (!record.source_bucket) {
      this.note(`${id} already uses the shared bucket; nothing to roll back.`)
      return {engagement_id: id, previous_source_bucket: null, source_bucket: '', newer_in_bucket: []}
    }
    await assertRollbackPossible(context, sharedBucket, record)
    const newer = await rollbackRisk(context, sharedBucket, record)
    if (newer.length > 0) {
      this.warning(
        `${newer.length >= 1000 ? 'At least 1000 objects' : plural(newer.length, 'object')} in ${record.source_bucket} ${newer.length === 1 ? 'is' : 'are'} missing or different in ${sharedBucket}; after the rollback the application will not see them:`,
        newer.slice(0, 10),
      )
    }
    await this.confirm(
      `Point ${id} back at the shared bucket ${sharedBucket}? (${record.source_bucket} is left in place)`,
      this.flags.yes,
    )
    await rollbackMigration(context, sharedBucket, id)
    this.note(`${id} now uses the shared bucket ${sharedBucket}. ${record.source_bucket} was left in place.`)
    this.note('Next:', nextCommands(id, record.source_bucket, newer.length))
    return {engagement_id: id, previous_source_bucket: record.source_bucket, source_bucket: '', newer_in_bucket: newer}
  }
}

/**
 * What an operator does after a rollback: look at the record, keep the migration's evidence in
 * view, migrate again once the cause is fixed, or remove the engagement's bucket when it is no
 * longer wanted (decommission now allows it: no record points there any more).
 */
function nextCommands(id: string, bucket: string, newer: number): string[] {
  const steps: Array<[string, string]> = [
    [`auditforge engagement show ${id}`, 'the record now says shared'],
    [`auditforge migrate evidence ${id}`, `what the migration copied (kept in ${bucket})`],
    [
      `auditforge migrate --engagement-id ${id} --execute`,
      'migrate again: what is already there is proven, not copied',
    ],
    [
      `auditforge bucket decommission ${bucket}`,
      newer > 0
        ? `only after copying the ${newer >= 1000 ? '1000+ newer objects' : `newer ${newer === 1 ? 'object' : 'objects'}`} listed above`
        : 'when it is no longer needed',
    ],
  ]
  const width = Math.max(...steps.map(([command]) => command.length))
  return steps.map(([command, why]) => `${command.padEnd(width)}  # ${why}`)
}
