import {Args, Flags} from '@oclif/core'

import {AuditforgeCommand} from '../../base-command.js'
import {type DecommissionResult, assertDecommissionable, decommissionBucket} from '../../lib/buckets.js'
import {EngagementIndex} from '../../lib/engagement-index.js'
import {validateBucketName} from '../../lib/layout.js'
import {plural} from '../../ui/format.js'

export default class BucketDecommission extends AuditforgeCommand<typeof BucketDecommission, DecommissionResult> {
  static override summary = 'Empty and delete a per-engagement bucket.'
  static override description = `Destructive: asks y/N on a terminal; --yes skips the question; without a terminal and without --yes it refuses (exit 5).

Deletes every object version and delete marker (DeleteObjects, 1000 keys a batch), aborts incomplete multipart uploads, then deletes the bucket. Refuses (exit 5), before deleting anything: the shared bucket, any name not of the per-engagement form, a bucket of another account, a bucket not tagged auditforge:managed-by=auditforge, any bucket an engagement record still points at, a bucket bound to another engagement index (tag auditforge:index names another shared bucket: another environment's), and a bucket bound to none (provisioned before buckets were bound; bind it with \`bucket provision ID --force\` if it is this index's). Safe to run again after an interruption.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> metis-af-6715f196fa40-741783034843',
    '<%= config.bin %> <%= command.id %> metis-af-6715f196fa40-741783034843 --yes --json',
  ]

  static override args = {
    bucket: Args.string({required: true, description: 'Per-engagement bucket name.'}),
  }

  static override flags = {
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation.'}),
  }

  public async run(): Promise<DecommissionResult> {
    const bucket = validateBucketName(this.args.bucket)
    this.assertCanConfirm(this.flags.yes)
    const sharedBucket = this.sharedBucket
    const context = await this.aws()
    const records = await new EngagementIndex(context.s3, sharedBucket).list()
    const pointing = records.filter((record) => record.source_bucket === bucket).map((record) => record.engagement_id)
    await assertDecommissionable(context, bucket, sharedBucket, pointing)
    await this.confirm(`Delete every object version in ${bucket} and the bucket itself?`, this.flags.yes)

    this.spinner.start(`Emptying ${bucket}`)
    const result = await decommissionBucket(context, bucket, {
      onProgress: ({deleted}) => this.spinner.update(`Emptying ${bucket}: ${deleted} object versions deleted`),
    })
    this.spinner.succeed(`Decommissioned ${bucket}`)
    this.note(`Deleted ${plural(result.deleted, 'object version')} and delete markers, aborted ${plural(result.uploadsAborted, 'multipart upload')}, removed ${bucket}.`)
    return result
  }
}
