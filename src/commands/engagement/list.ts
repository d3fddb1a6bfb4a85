import {AuditforgeCommand} from '../../base-command.js'
import {EngagementIndex} from '../../lib/engagement-index.js'
import type {EngagementListResult} from '../../results/engagement.js'
import {renderEngagementList} from '../../ui/records.js'

export default class EngagementList extends AuditforgeCommand<typeof EngagementList, EngagementListResult> {
  static override summary = 'List the engagements in the index.'
  static override description =
    'Reads auditforge/engagements.json from the shared bucket and shows each engagement with its bucket ("shared" when it still lives in the shared platform bucket). Read-only.'

  static override examples = [
    '<%= config.bin %> <%= command.id %> --shared-bucket platform-bucket',
    "<%= config.bin %> <%= command.id %> --json | jq -r '.engagements[].engagement_id'",
  ]

  public async run(): Promise<EngagementListResult> {
    const sharedBucket = this.sharedBucket
    const engagements = await new EngagementIndex((await this.aws()).s3, sharedBucket).list()
    if (!this.jsonEnabled()) this.log(renderEngagementList(engagements))
    return {engagements}
  }
}
