import {Args, Flags} from '@oclif/core'

import {AuditforgeCommand} from '../../base-command.js'
import {trailCleanupFlags} from '../../flags/bucket-controls.js'
import {clearanceFailure, countObjectVersions, inspectDecommission, retireBucket} from '../../lib/buckets.js'
import {EngagementIndex} from '../../lib/engagement-index.js'
import {validateBucketName} from '../../lib/layout.js'
import type {BucketDecommissionDryRun, BucketDecommissionResult, BucketDecommissioned} from '../../results/bucket.js'
import {renderPreflight, trailSelectorWarning} from '../../ui/controls.js'
import {plural} from '../../ui/format.js'

export default class BucketDecommission extends AuditforgeCommand<typeof BucketDecommission, BucketDecommissionResult> {
  static override summary = 'Empty and delete a per-engagement bucket.'
  static override description = `Destructive: asks y/N on a terminal; --yes skips the question; without a terminal and without --yes it refuses (exit 5). --dry-run shows the preflight and what would be deleted, and changes nothing.

Preflight, before a single object is removed: refuses (exit 5) the shared bucket, any name not of the per-engagement form, a bucket of another account, a bucket not tagged auditforge:managed-by=auditforge or whose auditforge:engagement-id tag disagrees with its name, any bucket an engagement record still points at, a bucket bound to another engagement index (tag auditforge:index names another shared bucket: another environment's), and a bucket bound to none (provisioned before buckets were bound; bind it with \`bucket provision ID --force\` if it is this index's); then refuses (exit 5), naming what blocks it, a bucket with Object Lock enabled, object versions under legal hold or unexpired retention, or MFA delete enabled. The checks made are shown by --dry-run and are in the --json document (status "refused" and the error beside them when they block it, dry run or not).

Then records the bucket's name as a tombstone next to the index (auditforge/decommissioned-buckets.json: name, engagement, when, by whom), so it is not provisioned again without \`bucket provision --reuse-name\`; deletes every object version and delete marker (DeleteObjects, 1000 keys a batch), aborts incomplete multipart uploads, then deletes the bucket. With --cloudtrail-trail (or AUDITFORGE_CLOUDTRAIL_TRAIL), takes the bucket's data-events selector off that trail afterwards (a failure there is a warning; the bucket is gone). Safe to run again after an interruption.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> metis-af-6715f196fa40-741783034843 --dry-run',
    '<%= config.bin %> <%= command.id %> metis-af-6715f196fa40-741783034843',
    '<%= config.bin %> <%= command.id %> metis-af-6715f196fa40-741783034843 --yes --json',
  ]

  static override args = {
    bucket: Args.string({required: true, description: 'Per-engagement bucket name.'}),
  }

  static override flags = {
    yes: Flags.boolean({char: 'y', summary: 'Do not ask for confirmation.'}),
    'dry-run': Flags.boolean({
      summary: 'Run the preflight and count what would be deleted; change nothing.',
      exclusive: ['yes'],
    }),
    ...trailCleanupFlags,
  }

  public async run(): Promise<BucketDecommissionResult> {
    const bucket = validateBucketName(this.args.bucket)
    const dryRun = this.flags['dry-run']
    if (!dryRun) this.assertCanConfirm(this.flags.yes)
    const sharedBucket = this.sharedBucket
    const context = await this.aws()
    const records = await new EngagementIndex(context.s3, sharedBucket).list()
    const pointing = records.filter((record) => record.source_bucket === bucket).map((record) => record.engagement_id)
    this.spinner.start(`Checking ${bucket}`)
    const preflight = await inspectDecommission(context, bucket, sharedBucket, pointing)
    this.spinner.stop()
    // The preflight is what a dry run is for; a real run only says what blocks it, in its error.
    if (dryRun && !this.jsonEnabled()) this.log(renderPreflight(preflight.checks))
    const blocked = clearanceFailure(preflight)
    if (blocked) {
      // Under --json the preflight is the document beside the error, dry run or not.
      const checks = {bucket, preflight: preflight.checks}
      if (dryRun)
        return this.finish<BucketDecommissionDryRun>({...checks, dry_run: true, object_versions: null}, blocked)
      return this.finish<BucketDecommissioned>(
        {...checks, dry_run: false, deleted: 0, uploads_aborted: 0, trail_selector: null},
        blocked,
      )
    }

    if (dryRun) {
      this.spinner.start(`Counting the object versions in ${bucket}`)
      const versions = await countObjectVersions(context, bucket)
      this.spinner.stop()
      this.note(
        `Dry run: would record ${bucket} as decommissioned, delete ${plural(versions, 'object version')} and delete markers and any incomplete uploads, and remove the bucket. Nothing was changed.`,
      )
      return this.finish<BucketDecommissionDryRun>({
        bucket,
        dry_run: true,
        preflight: preflight.checks,
        object_versions: versions,
      })
    }

    await this.confirm(`Delete every object version in ${bucket} and the bucket itself?`, this.flags.yes)
    this.spinner.start(`Emptying ${bucket}`)
    const result = await retireBucket(context, preflight, sharedBucket, {
      onProgress: ({deleted}) => this.spinner.update(`Emptying ${bucket}: ${deleted} object versions deleted`),
    })
    this.spinner.succeed(`Decommissioned ${bucket}`)
    this.note(
      `Deleted ${plural(result.deleted, 'object version')} and delete markers, aborted ${plural(result.uploads_aborted, 'multipart upload')}, removed ${bucket}; its name is tombstoned.`,
    )
    const trailWarning = trailSelectorWarning(bucket, result.trail_selector)
    if (trailWarning)
      this.warning(
        trailWarning,
        typeof result.trail_selector !== 'object' || result.trail_selector === null
          ? []
          : [
              `Remove the selector named "auditforge ${bucket}" from the trail (CloudTrail console, or aws cloudtrail put-event-selectors).`,
            ],
      )
    return this.finish<BucketDecommissioned>({
      bucket: result.bucket,
      dry_run: false,
      deleted: result.deleted,
      uploads_aborted: result.uploads_aborted,
      trail_selector: result.trail_selector,
      preflight: preflight.checks,
    })
  }
}
