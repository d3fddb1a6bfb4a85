/**
 * A migration's evidence for people: a short block for the operator's terminal, and a Markdown
 * report for an auditor. Every value comes from S3 (anyone who could write the bucket could have
 * written it), so each is sanitised as it is put in; in Markdown it is escaped as well, so a
 * value can neither break the table nor become a link, an image or HTML.
 */
import {type DeepChecks, type EvidenceReport, type SampledObject, evidenceRunUri} from '../lib/migrate/index.js'
import {formatBytes, plural} from './format.js'
import {describeChecksumCheck, describeContentSample} from './migration.js'
import {sanitize} from './terminal.js'

const absent = '—'
const text = (value: unknown): string =>
  value === null || value === undefined || value === '' ? absent : sanitize(value)

/** The operator's view: one fact a line. */
export function renderEvidenceText(report: EvidenceReport): string {
  const {summary, objects} = report
  const {verification} = summary
  return [
    `Engagement:    ${text(report.engagement_id)}`,
    `Bucket:        ${text(report.bucket)}`,
    `Run:           ${text(summary.run_id)} (${report.runs.length} run${report.runs.length === 1 ? '' : 's'})`,
    `Operator:      ${text(summary.operator_arn)}`,
    `Tool version:  ${text(summary.tool_version)}`,
    `Source:        ${text(summary.source_bucket)} → ${text(summary.target_bucket)}`,
    `Started:       ${text(summary.started_at)}`,
    `Finished:      ${text(summary.finished_at)}`,
    `Objects:       ${summary.objects} (${formatBytes(summary.bytes)}): ${summary.copied} copied, ${summary.proven} proven, ${summary.removed} removed`,
    `Verification:  ${text(verification?.result)} at ${text(verification?.checked_at)} (${verification?.differences ?? 0} differences)`,
    `Flip:          ${summary.flipped_at ? `at ${text(summary.flipped_at)}, index ETag ${text(summary.index_etag_before)} → ${text(summary.index_etag_after)}` : 'not flipped'}`,
    `Late writes:   ${summary.late_writes} (${summary.late_write_conflicts} conflicts)`,
    ...continued('Deep checks:   ', deepCheckLines(summary.deep_checks).map(text), 'none asked for'),
    ...continued('Last verified: ', verificationLines(report).map(text), 'no verification record'),
    `Evidence:      ${plural(objects.lines, 'line')} (all runs): ${objects.copied} copied, ${objects.proven} proven, ${objects.removed} removed, ${plural(objects.late_write, 'late write')}`,
    `Location:      ${sanitize(evidenceRunUri(report))}`,
    `Source purge:  ${purgeText(report, text)}`,
  ].join('\n')
}

/** A labelled fact over several lines: the label on the first, the rest indented under it. */
function continued(label: string, lines: string[], none: string): string[] {
  if (lines.length === 0) return [`${label}${none}`]
  return lines.map((line, index) => `${index === 0 ? label : ' '.repeat(label.length)}${line}`)
}

/** One line per deep check that ran (values straight from S3: the caller sanitises). */
function deepCheckLines(checks: DeepChecks | null | undefined): string[] {
  return [
    ...(checks?.checksums ? [describeChecksumCheck(checks.checksums)] : []),
    ...(checks?.content_sample ? [describeContentSample(checks.content_sample)] : []),
  ]
}

/** The newest verification record: its verdict, then its deep checks. */
function verificationLines(report: EvidenceReport): string[] {
  const record = report.verification_record
  if (!record) return []
  const against = record.evidence_run ? `against run ${record.evidence_run}` : 'without evidence'
  return [
    `${record.result} at ${record.checked_at} by ${record.operator_arn}, ${against} (${record.differences} differences)`,
    ...deepCheckLines(record.deep_checks),
  ]
}

/** The auditor's report, in Markdown. */
export function renderEvidenceMarkdown(report: EvidenceReport): string {
  const {summary, objects} = report
  const {verification} = summary
  const facts: [string, string][] = [
    ['Engagement', md(report.engagement_id)],
    ['Bucket', md(report.bucket)],
    ['Run', md(summary.run_id)],
    ['Operator', md(summary.operator_arn)],
    ['Tool version', md(summary.tool_version)],
    ['Source bucket', md(summary.source_bucket)],
    ['Target bucket', md(summary.target_bucket)],
    ['Started', md(summary.started_at)],
    ['Finished', md(summary.finished_at)],
    ['Objects', String(summary.objects)],
    ['Bytes', `${summary.bytes} (${formatBytes(summary.bytes)})`],
    ['Copied / proven / removed', `${summary.copied} / ${summary.proven} / ${summary.removed}`],
    [
      'Verification',
      `${md(verification?.result)} at ${md(verification?.checked_at)}, ${verification?.differences ?? 0} differences`,
    ],
    ['Index ETag before flip', md(summary.index_etag_before)],
    ['Index ETag after flip', md(summary.index_etag_after)],
    ['Flipped at', md(summary.flipped_at)],
    ['Late writes', `${summary.late_writes} (${summary.late_write_conflicts} conflicts)`],
    [
      'Evidence lines (all runs)',
      `${objects.lines}: ${objects.copied} copied, ${objects.proven} proven, ${objects.removed} removed, ${objects.late_write} late writes`,
    ],
    ['Source purge', purgeText(report, md)],
    ['Deep checks of this run', deepCheckLines(summary.deep_checks).map(md).join('<br>') || 'none asked for'],
    ['Latest verification', verificationLines(report).map(md).join('<br>') || 'no verification record'],
  ]
  const samples = [
    ...sampleRows('this run', summary.deep_checks?.content_sample?.objects),
    ...sampleRows(
      `verification ${report.verification_record?.verification_id ?? ''}`,
      report.verification_record?.deep_checks?.content_sample?.objects,
    ),
  ]
  return [
    `# Migration evidence: ${md(report.engagement_id)}`,
    '',
    '## Facts',
    '',
    '| Fact | Value |',
    '|---|---|',
    ...facts.map(([fact, value]) => `| ${fact} | ${value} |`),
    '',
    '## Statement',
    '',
    statement(report),
    '',
    ...(samples.length > 0
      ? [
          '## Content sample',
          '',
          'Objects downloaded from both sides, pinned to the versions in the evidence, and their SHA-256.',
          '',
          '| Check | Key | Size | Source SHA-256 | Target SHA-256 | Result |',
          '|---|---|---|---|---|---|',
          ...samples,
          '',
        ]
      : []),
    '## Evidence location',
    '',
    `\`${sanitize(evidenceRunUri(report))}\``,
    '',
    '## Runs',
    '',
    ...report.runs.map((run) => `- ${md(run)}${run === summary.run_id ? ' (this report)' : ''}`),
  ].join('\n')
}

/** Table rows of sampled objects, every value escaped. */
function sampleRows(check: string, objects: SampledObject[] | undefined): string[] {
  return (objects ?? []).map(
    (object) =>
      `| ${md(check)} | ${md(object.key)} | ${md(object.size)} | ${md(object.source_sha256)} | ${md(object.target_sha256)} | ${md(object.outcome)} |`,
  )
}

function statement(report: EvidenceReport): string {
  const {summary} = report
  const verification = summary.verification
  const verified =
    verification?.result === 'passed'
      ? `after verification passed at ${md(verification.checked_at)}`
      : `although verification ${md(verification?.result ?? 'was not recorded')}`
  if (!summary.flipped_at)
    return `The record was not switched by this run; verification: ${md(verification?.result)} at ${md(verification?.checked_at)}.`
  return `The record was switched at ${md(summary.flipped_at)}, ${verified} (index ETag ${md(summary.index_etag_before)} → ${md(summary.index_etag_after)}).`
}

/** A value for Markdown: sanitised, then every character Markdown could act on escaped. */
function md(value: unknown): string {
  return text(value).replace(/[\\`*_{}[\]<>()#+!|~&]/g, '\\$&')
}

/** The shared bucket's copy: still there, purged (when, how much), or a purge left unfinished. */
function purgeText(report: EvidenceReport, value: (value: unknown) => string): string {
  const purge = report.source_purge
  if (!purge) return 'not purged (the shared bucket still holds the copy)'
  const amount = `${plural(purge.versions, 'version')} and ${plural(purge.delete_markers, 'delete marker')}${purge.bytes === null ? '' : ` (${formatBytes(purge.bytes)})`}`
  const from = `from ${value(purge.shared_bucket)}`
  if (purge.status !== 'completed')
    return `unfinished: purge ${value(purge.purge_id)} started at ${value(purge.started_at)} to remove ${amount} ${from}; run purge-source again to finish it`
  const left = purge.left_versions ? `, ${plural(purge.left_versions, 'version')} left (written during the purge)` : ''
  return `purged at ${value(purge.completed_at)}: ${amount} removed ${from} (purge ${value(purge.purge_id)})${left}`
}
