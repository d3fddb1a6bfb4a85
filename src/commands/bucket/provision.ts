import {Args, Flags} from '@oclif/core'

import {AuditforgeCommand} from '../../base-command.js'
import {bucketProvisionFlags} from '../../flags/bucket-controls.js'
import {parseTags, provisionEngagementBucket} from '../../lib/buckets.js'
import {EngagementIndex} from '../../lib/engagement-index.js'
import {validateEngagementId} from '../../lib/layout.js'
import type {BucketProvisionResult} from '../../results/bucket.js'

export default class BucketProvision extends AuditforgeCommand<typeof BucketProvision, BucketProvisionResult> {
  static override summary = 'Create or repair the per-engagement bucket of an engagement.'
  static override description = `Creates <prefix><id>-<account> (with --namespace account-regional: <prefix><id>-<account>-<region>-an, which no other account can create) with Object Ownership BucketOwnerEnforced, then proves with HeadBucket that it is this account's, then applies every control of the controls table (README, "Bucket controls"): all four public-access-block settings, default encryption (AES256, or SSE-KMS with --kms-key-id and a bucket key; an SSE-KMS bucket is never downgraded), versioning, the TLS-only bucket policy (skipped with a warning on a plain-http endpoint) and, with --allow-principal, the least-privilege statement in the same policy (a list that leaves out the caller is refused, exit 2), the lifecycle rules (merged with any others), server access logging (with --access-log-bucket) and CloudTrail data events (with --cloudtrail-trail), and the tags auditforge:engagement-id and auditforge:managed-by=auditforge plus any --tag. Idempotent: a bucket this account already owns has its controls re-applied; a bucket of that name owned by another account is an error and nothing is written to it. The bucket is bound to the engagement index in the shared bucket (tag auditforge:index); a bucket bound to another index is refused (exit 5), and so is an existing bucket bound to none (provisioned before binding; it could be another environment's) unless --force claims it for this index. The engagement must have a record in that index (exit 3 otherwise) unless --force. A name auditforge decommissioned before (a tombstone next to the index) is refused (exit 5) unless --reuse-name. Prints the bucket name. Does not change the engagement record (see \`migrate\`).`

  static override examples = [
    '<%= config.bin %> <%= command.id %> eng-6715f196fa40',
    '<%= config.bin %> <%= command.id %> eng-6715f196fa40 --tag cost-center=audit --tag owner=risk-team',
  ]

  static override args = {
    'engagement-id': Args.string({required: true, description: 'Engagement id, e.g. eng-6715f196fa40.'}),
  }

  static override flags = {
    tag: Flags.string({multiple: true, summary: 'Extra bucket tag key=value; repeatable.'}),
    force: Flags.boolean({
      summary:
        'Provision even when the index has no record of the engagement, and bind an existing unbound bucket to this index.',
    }),
    'reuse-name': Flags.boolean({
      summary: 'Provision the bucket even though auditforge decommissioned that name before (removes its tombstone).',
    }),
    ...bucketProvisionFlags,
  }

  public async run(): Promise<BucketProvisionResult> {
    const id = validateEngagementId(this.args['engagement-id'])
    const tags = parseTags(this.flags.tag)
    const sharedBucket = this.sharedBucket
    const context = await this.aws()
    if (!this.flags.force) {
      // A bucket for an id this index does not know would belong to no record of it.
      await new EngagementIndex(context.s3, sharedBucket).get(
        id,
        'Check the id with `auditforge engagement list`; pass --force to provision (and bind) its bucket anyway.',
      )
    }
    this.spinner.start('Provisioning the bucket')
    const result = await provisionEngagementBucket(context, id, {
      tags,
      bindUnbound: this.flags.force,
      reuseName: this.flags['reuse-name'],
      onStep: (_step, text) => this.spinner.update(text),
    })
    this.spinner.succeed(
      `${result.created ? 'Created' : 'Repaired'} ${result.bucket} with every control${result.skipped.length > 0 ? ' that applies here' : ''}`,
    )
    for (const skipped of result.skipped) this.warning(`${skipped.control} was not applied: ${skipped.reason}`)
    if (!this.jsonEnabled()) this.log(result.bucket)
    return {engagement_id: id, bucket: result.bucket, created: result.created, skipped: result.skipped}
  }
}
