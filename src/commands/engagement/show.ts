import {Args} from '@oclif/core'

import {AuditforgeCommand} from '../../base-command.js'
import {EngagementIndex} from '../../lib/engagement-index.js'
import {validateEngagementId} from '../../lib/layout.js'
import type {EngagementShowResult} from '../../results/engagement.js'
import {renderEngagement} from '../../ui/records.js'

export default class EngagementShow extends AuditforgeCommand<typeof EngagementShow, EngagementShowResult> {
  static override summary = 'Show one engagement record.'
  static override description =
    "Prints the engagement's record from the index, including fields auditforge does not know. Read-only. Exit 3 when there is no such engagement."

  static override examples = [
    '<%= config.bin %> <%= command.id %> eng-6715f196fa40',
    '<%= config.bin %> <%= command.id %> eng-6715f196fa40 --json | jq -r .source_bucket',
  ]

  static override args = {
    'engagement-id': Args.string({required: true, description: 'Engagement id, e.g. eng-6715f196fa40.'}),
  }

  public async run(): Promise<EngagementShowResult> {
    const id = validateEngagementId(this.args['engagement-id'])
    const sharedBucket = this.sharedBucket
    const record = await new EngagementIndex((await this.aws()).s3, sharedBucket).get(id)
    if (!this.jsonEnabled()) this.log(renderEngagement(record))
    return record
  }
}
