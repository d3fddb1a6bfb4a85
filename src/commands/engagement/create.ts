import {Flags} from '@oclif/core'

import {AuditforgeCommand} from '../../base-command.js'
import {bucketProvisionFlags} from '../../flags/bucket-controls.js'
import {parseTags} from '../../lib/buckets.js'
import {createEngagement, validateCreateInput} from '../../lib/engagements.js'
import type {EngagementCreateResult} from '../../results/engagement.js'
import {renderEngagement} from '../../ui/records.js'

export default class EngagementCreate extends AuditforgeCommand<typeof EngagementCreate, EngagementCreateResult> {
  static override summary = 'Create an engagement, with its own hardened bucket when isolated.'
  static override description = `Creates a new engagement id and writes its record to the engagement index with a conditional write, so concurrent creates never lose each other. With --isolated (or AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET=true) it first provisions a per-engagement bucket with every control of the controls table (README, "Bucket controls"; the BUCKET CONTROLS flags choose encryption and lifecycle); if the record cannot be written, that fresh, empty bucket is removed again. The first audit-log event, engagement.created, records the caller's ARN.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --name "Acme FY26 SOC 2" --client-id acme',
    '<%= config.bin %> <%= command.id %> --name "Acme FY26 SOC 2" --client-id acme --isolated --tag cost-center=audit',
    '<%= config.bin %> <%= command.id %> --name "Internal test" --no-isolated --json',
  ]

  static override flags = {
    name: Flags.string({required: true, summary: 'Human-readable engagement name.'}),
    'client-id': Flags.string({summary: 'Client (tenant) id the engagement belongs to.'}),
    'firm-id': Flags.string({summary: 'Firm id, for firm branding.'}),
    isolated: Flags.boolean({
      allowNo: true,
      summary: 'Provision a per-engagement bucket. Env: AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET.',
    }),
    tag: Flags.string({multiple: true, summary: 'Extra bucket tag key=value (isolated only); repeatable.'}),
    ...bucketProvisionFlags,
  }

  public async run(): Promise<EngagementCreateResult> {
    const {flags} = this
    const input = {name: flags.name, clientId: flags['client-id'], firmId: flags['firm-id'], tags: parseTags(flags.tag)}
    const settings = this.settings
    const isolated = flags.isolated ?? settings.isolated
    validateCreateInput({...input, isolated})
    const sharedBucket = this.sharedBucket

    this.spinner.start('Creating the engagement')
    const {record, warnings} = await createEngagement(
      await this.aws(),
      sharedBucket,
      {...input, isolated},
      (_step, text) => this.spinner.update(text),
    )
    this.spinner.succeed(
      `Created ${record.engagement_id}${record.source_bucket ? ` in its own bucket ${record.source_bucket}` : ' in the shared bucket'}`,
    )
    for (const warning of warnings) this.warning(warning)
    if (!this.jsonEnabled()) this.log(renderEngagement(record))
    return record
  }
}
