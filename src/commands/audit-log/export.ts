import {Args, Flags} from '@oclif/core'

import {AuditforgeCommand} from '../../base-command.js'
import {
  type Delivery,
  type ExportFormat,
  deliveries,
  exportFormats,
  exportSignedUrl,
  exportToFile,
  resolveExportSource,
  streamExport,
  validateExpiresIn,
  validateOutputPath,
} from '../../lib/audit-export.js'
import {invalidInput} from '../../lib/errors.js'
import {validateEngagementId} from '../../lib/layout.js'
import type {AuditLogExportResult} from '../../results/audit-log.js'
import {renderSignedUrl} from '../../ui/export.js'
import {formatBytes} from '../../ui/format.js'

export default class AuditLogExport extends AuditforgeCommand<typeof AuditLogExport, AuditLogExportResult | undefined> {
  static override summary = "Export an engagement's audit log, streamed or as a presigned URL."
  static override description = `Reads the audit-log shards from the engagement's bucket in shard-number order, never holding the whole log in memory. jsonl: the lines as stored. json: one JSON array; a line that is not JSON stops the export with an error naming the shard and line.

--delivery stream (default) writes to stdout, or to --output FILE through a temporary file that is renamed into place (no half-written file on failure).

--delivery signed_url uploads the payload to auditforge/exports/<id>-<timestamp>.<ext> in the engagement's bucket, prints a presigned GET URL pinned to that object version, valid --expires-in seconds (60..3600), and records an audit_log.exported event (actor, key, version, size, expiry; never the URL) in the engagement's audit log. An empty log uploads nothing: signed_url is null. Read-only otherwise.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> eng-6715f196fa40 | jq -c .',
    '<%= config.bin %> <%= command.id %> eng-6715f196fa40 --format json --output audit-log.json',
    '<%= config.bin %> <%= command.id %> eng-6715f196fa40 --delivery signed_url --expires-in 900 --json',
  ]

  static override args = {
    'engagement-id': Args.string({required: true, description: 'Engagement id, e.g. eng-6715f196fa40.'}),
  }

  static override flags = {
    format: Flags.string({
      summary: 'jsonl: the lines as stored; json: one JSON array.',
      options: [...exportFormats],
      default: 'jsonl',
    }),
    delivery: Flags.string({
      summary: 'stream to stdout/--output, or upload and print a presigned URL.',
      options: [...deliveries],
      default: 'stream',
    }),
    'expires-in': Flags.integer({summary: 'Seconds the presigned URL is valid (60..3600).', default: 600}),
    output: Flags.string({char: 'o', summary: 'Write the stream to this file instead of stdout.'}),
  }

  public async run(): Promise<AuditLogExportResult | undefined> {
    const {flags} = this
    const id = validateEngagementId(this.args['engagement-id'])
    const format = flags.format as ExportFormat
    const delivery = flags.delivery as Delivery
    const expiresIn = validateExpiresIn(flags['expires-in'])
    const output = flags.output === undefined ? undefined : validateOutputPath(flags.output)
    if (delivery === 'signed_url' && output)
      throw invalidInput('--output goes with --delivery stream; a signed URL needs no file')
    if (delivery === 'stream' && !output && this.jsonEnabled()) {
      throw invalidInput('--json with --delivery stream needs --output FILE: stdout carries the audit log itself')
    }
    const sharedBucket = this.sharedBucket
    const context = await this.aws()
    const source = await resolveExportSource(context, sharedBucket, id)

    if (delivery === 'signed_url') {
      this.spinner.start(`Uploading the ${format} export of ${id}`)
      const result = await exportSignedUrl(context, sharedBucket, source, format, expiresIn)
      this.spinner.stop()
      if (result.warning) this.warning(result.warning)
      if (!this.jsonEnabled()) this.log(renderSignedUrl(result))
      return result
    }

    const base = {engagement_id: id, format, shard_count: source.shards.length}
    if (output) {
      this.spinner.start(`Writing ${output}`)
      const counters = await exportToFile(context.s3, source, format, output)
      this.spinner.succeed(
        `Wrote ${output}: ${formatBytes(counters.bytes)}, ${counters.events} events from ${source.shards.length} shards`,
      )
      return {...base, output, size_bytes: counters.bytes, event_count: counters.events}
    }
    // The stream is the audit log itself, byte-exact: never sanitised (pipe it, or use --output).
    await streamExport(context.s3, source, format, process.stdout)
    return undefined
  }
}
