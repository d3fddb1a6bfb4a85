import {Args, Flags} from '@oclif/core'

import {AuditforgeCommand} from '../../base-command.js'
import {trailCleanupFlags} from '../../flags/bucket-controls.js'
import {EngagementIndex} from '../../lib/engagement-index.js'
import {deleteEngagement} from '../../lib/engagements.js'
import {validateEngagementId} from '../../lib/layout.js'
import type {EngagementDeleteResult} from '../../results/engagement.js'
import {trailSelectorWarning} from '../../ui/controls.js'
import {plural} from '../../ui/format.js'
import {sanitize} from '../../ui/terminal.js'

export default class EngagementDelete extends AuditforgeCommand<typeof EngagementDelete, EngagementDeleteResult> {
  static override summary = 'Delete an engagement and, unless --keep-data, its data.'
  static override description = `Destructive: asks y/N on a terminal; --yes skips the question; without a terminal and without --yes it refuses (exit 5).

Without --keep-data, every version of the engagement's own keys is deleted from the shared bucket (nobody else's: matching is exact), then the record is removed, then the engagement's own bucket is decommissioned (and, with --cloudtrail-trail, its data-events selector taken off that trail): the one the record points at, or, for an engagement in the shared bucket, the bucket named after it if one exists (a rollback or an interrupted migration leaves a full copy there) and it is provably this engagement's (tagged auditforge:managed-by, its engagement id, and bound to this index by auditforge:index); otherwise it is left in place and said so. A bucket another record points at, or bound to another index, is never touched. A bucket the record names that no longer exists is nothing to clean up, and said so. Decommissioning is best-effort: the deletion stands even if it fails, and the command to retry it is printed. With --keep-data only the record is removed.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> eng-6715f196fa40',
    '<%= config.bin %> <%= command.id %> eng-6715f196fa40 --yes --json',
    '<%= config.bin %> <%= command.id %> eng-6715f196fa40 --keep-data --yes',
  ]

  static override args = {
    'engagement-id': Args.string({required: true, description: 'Engagement id, e.g. eng-6715f196fa40.'}),
  }

  static override flags = {
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation.'}),
    'keep-data': Flags.boolean({summary: 'Remove only the record; keep the objects and the bucket.'}),
    ...trailCleanupFlags,
  }

  public async run(): Promise<EngagementDeleteResult> {
    const id = validateEngagementId(this.args['engagement-id'])
    const {yes, 'keep-data': keepData} = this.flags
    this.assertCanConfirm(yes)
    const sharedBucket = this.sharedBucket
    const context = await this.aws()
    const record = await new EngagementIndex(context.s3, sharedBucket).get(id)

    const where = record.source_bucket
      ? `its bucket ${record.source_bucket} and its keys in ${sharedBucket}`
      : `its keys in ${sharedBucket}`
    const question = `Delete engagement ${id} (${sanitize(record.name)})${keepData ? ', keeping its data' : ` and ${where}, every version`}?`
    await this.confirm(question, yes)

    this.spinner.start(`Deleting ${id}`)
    const result = await deleteEngagement(context, sharedBucket, id, {
      keepData,
      onProgress: ({deleted, phase}) =>
        this.spinner.update(
          `Deleting ${id}: ${deleted} object versions from ${phase === 'shared' ? sharedBucket : 'its bucket'}`,
        ),
    })
    this.spinner.stop()
    this.note(
      `Deleted engagement ${id}: ${plural(result.shared_objects_deleted, 'object version')} removed from ${sharedBucket}.`,
    )
    if (result.bucket === 'decommissioned')
      this.note(`Decommissioned ${result.bucket_name} (${plural(result.bucket_objects_deleted, 'object version')}).`)
    const trailWarning = result.bucket_name
      ? trailSelectorWarning(result.bucket_name, result.trail_selector)
      : undefined
    if (trailWarning)
      this.warning(
        trailWarning,
        typeof result.trail_selector !== 'object' || result.trail_selector === null
          ? []
          : [
              `Remove the selector named "auditforge ${result.bucket_name}" from the trail (CloudTrail console, or aws cloudtrail put-event-selectors).`,
            ],
      )
    if (result.bucket === 'kept') this.note(`Kept the bucket ${result.bucket_name}.`)
    if (result.bucket === 'gone') this.note(`Its bucket ${result.bucket_name} no longer exists; nothing to clean up.`)
    if (result.bucket === 'left_in_place') this.warning(`Left ${result.bucket_name} in place: ${result.cleanup_error}`)
    if (result.bucket === 'cleanup_failed') {
      this.warning(`The engagement is deleted, but its bucket was not: ${result.cleanup_error}`, [
        `Retry with: ${result.retry_command}`,
      ])
    }
    return result
  }
}
