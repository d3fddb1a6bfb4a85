import {Args, Flags} from '@oclif/core'

import {AuditforgeCommand} from '../../base-command.js'
import {validateEngagementId} from '../../lib/layout.js'
import {loadEvidence} from '../../lib/migrate/index.js'
import type {MigrateEvidenceResult} from '../../results/migrate.js'
import {renderEvidenceMarkdown, renderEvidenceText} from '../../ui/evidence.js'

export default class MigrateEvidence extends AuditforgeCommand<typeof MigrateEvidence, MigrateEvidenceResult> {
  static override summary = "Show the evidence of an engagement's migration, for the operator or an auditor."
  static override description = `Reads the migration evidence that migrate --execute wrote to auditforge/migrations/<id>/ in the engagement's own bucket (its source_bucket, or the bucket named after it when the engagement was never migrated or was rolled back) and reports one run: the latest, or the one given with --run. The run's summary (operator, start and end, objects, bytes, the verification result, the deep checks --checksums and --content-sample ran, the flip with the index ETags before and after, late writes), the evidence lines of the record, every run merged with the newest line per key, counted by action, the latest verification record (a migrate --verify-only with deep checks), and whether \`migrate purge-source\` has removed the shared bucket's copy (when, how many versions and bytes).

--format text (default) prints a short block; --format md a Markdown report for an auditor; --json the report as one JSON document. Read-only. Exit 3 when the engagement, its evidence or the run does not exist.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> eng-6715f196fa40',
    '<%= config.bin %> <%= command.id %> eng-6715f196fa40 --format md > migration-evidence.md',
    '<%= config.bin %> <%= command.id %> eng-6715f196fa40 --run 20250102T030405.678Z-a1b2c3 --json',
  ]

  static override args = {
    'engagement-id': Args.string({required: true, description: 'Engagement id, e.g. eng-6715f196fa40.'}),
  }

  static override flags = {
    run: Flags.string({summary: 'The run to report on (default: the latest), e.g. 20250102T030405.678Z-a1b2c3.'}),
    format: Flags.string({
      summary: 'text: a short block; md: a Markdown report for an auditor.',
      options: ['text', 'md'],
      default: 'text',
    }),
  }

  public async run(): Promise<MigrateEvidenceResult> {
    const id = validateEngagementId(this.args['engagement-id'])
    const sharedBucket = this.sharedBucket
    const context = await this.aws()
    this.spinner.start(`Reading the migration evidence of ${id}`)
    const report = await loadEvidence(context, sharedBucket, id, {runId: this.flags.run})
    this.spinner.stop()
    this.log(this.flags.format === 'md' ? renderEvidenceMarkdown(report) : renderEvidenceText(report))
    return report
  }
}
