import type {
  BulkOutcome,
  ChecksumCheck,
  ContentSampleCheck,
  DeepChecks,
  EngagementOutcome,
  NotComparableReason,
  VerifyOutcome,
} from '../lib/migrate/index.js'
import type {VerificationDifference} from '../results/migrate.js'
import {plural} from './format.js'
import {type Column, renderTable, terminalWidth, textWidth} from './table.js'
import {type Rendered, sanitize} from './terminal.js'

/** Sizes in the plan's tables: mebibytes (1024 × 1024 bytes), labelled MiB. */
export const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(2)

const engagementColumns: Column[] = [
  {title: 'Engagement', fit: 'whole'},
  {title: 'Target bucket', fit: 'whole'},
]

/**
 * The dry-run plan in seed 001's layout (source, a ruled table, the total), sizes in MiB. The
 * table fits the terminal (ids and bucket names whole) and the rules are as wide as the table;
 * each value is sanitised, so no value can add a line.
 */
export function renderPlan(sourceBucket: string, outcomes: EngagementOutcome[]): string {
  const planned = outcomes.filter((outcome) => outcome.status !== 'already_migrated')
  const lines = [`Source bucket: ${sanitize(sourceBucket)}`]
  if (planned.length > 0) {
    const table = renderTable(
      [...engagementColumns, {title: 'Objs', align: 'right'}, {title: 'MiB', align: 'right'}],
      planned.map((outcome) => [outcome.engagement_id, outcome.target_bucket, outcome.objects, mib(outcome.bytes)]),
      {rule: '-', plain: true},
    ).text
    const width = Math.min(
      Math.max(...table.split('\n').map((line) => textWidth(line))),
      terminalWidth() ?? Number.POSITIVE_INFINITY,
    )
    lines.push('='.repeat(width), table, '='.repeat(width))
  }
  lines.push(
    `Total: ${plural(planned.length, 'engagement')}, ${plural(sum(planned, 'objects'), 'object')}, ${mib(sum(planned, 'bytes'))} MiB`,
  )
  for (const outcome of outcomes.filter((candidate) => candidate.status === 'already_migrated')) {
    lines.push(`Already migrated: ${sanitize(outcome.engagement_id)} uses ${sanitize(outcome.target_bucket)}`)
  }
  return lines.join('\n')
}

export function renderOutcomes(outcomes: EngagementOutcome[]): Rendered {
  return renderTable(
    [
      ...engagementColumns,
      {title: 'Status', fit: 'whole'},
      {title: 'Copied', align: 'right'},
      {title: 'Skipped', align: 'right', drop: 1},
    ],
    outcomes.map((outcome) => [
      outcome.engagement_id,
      outcome.target_bucket,
      outcome.status,
      outcome.copied,
      outcome.skipped_existing,
    ]),
  )
}

export function renderVerification(outcomes: VerifyOutcome[]): Rendered | string {
  if (outcomes.length === 0) return 'No migrated engagements to verify.'
  return renderTable(
    [
      ...engagementColumns,
      {title: 'Objs', align: 'right', drop: 2},
      {title: 'MiB', align: 'right', drop: 1},
      {title: 'Result', fit: 'whole'},
    ],
    outcomes.map((outcome) => [
      outcome.engagement_id,
      outcome.target_bucket,
      outcome.objects,
      mib(outcome.bytes),
      outcome.status === 'verified'
        ? 'ok'
        : outcome.status === 'no_migration'
          ? 'no migration'
          : plural(outcome.differences.length + outcome.unlisted_differences, 'difference'),
    ]),
  )
}

/**
 * A difference as the text view says it: `<kind in words>: <key> (<detail>)`, e.g.
 * `size differs: auditforge/engagements/eng-abc/findings.json (source 10 B, target 12 B)`.
 */
export function differenceText({key, kind, detail}: Pick<VerificationDifference, 'key' | 'kind' | 'detail'>): string {
  const label = kind.replace(/_/g, ' ')
  if (key === null) return `${label}: ${detail ?? ''}`
  return detail === null ? `${label}: ${key}` : `${label}: ${key} (${detail})`
}

/**
 * One engagement's verification differences, the first 20 of them, as a warning and its detail
 * lines (each difference names a key from S3; the warning prints each on a line of its own).
 */
export function renderDifferences(
  engagementId: string,
  differences: VerificationDifference[],
  unlisted = 0,
): [message: string, details: string[]] {
  const shown = differences.slice(0, 20).map((difference) => differenceText(difference))
  const hidden = differences.length - shown.length + unlisted
  const more = hidden > 0 ? [`… and ${hidden} more`] : []
  return [`${engagementId} failed verification; its record was not changed:`, [...shown, ...more]]
}

/** Why objects were not comparable by checksum, as short labels for a count. */
const reasonLabels: Record<NotComparableReason, string> = {
  no_source_checksum: 'no source checksum',
  no_target_checksum: 'no target checksum',
  different_algorithms: 'different algorithms',
  composite: 'composite checksum',
  source_version_gone: 'source version gone',
  source_changed: 'source changed',
}

/** `--checksums` in one line: what was compared, what differed, and what could not be compared and why. */
export function describeChecksumCheck(check: ChecksumCheck): string {
  const reasons = Object.entries(check.not_comparable_reasons ?? {}).map(
    ([reason, count]) => `${reasonLabels[reason as NotComparableReason] ?? reason}: ${count}`,
  )
  return [
    `checksums ${check.result}: ${plural(check.objects, 'object')}, ${check.compared} compared (${check.equal} equal, ${check.mismatches} differ)`,
    ...(check.target_missing > 0 ? [`${check.target_missing} target versions missing`] : []),
    `${check.not_comparable} not comparable${reasons.length > 0 ? ` (${reasons.join('; ')})` : ''}`,
  ].join(', ')
}

/** `--content-sample` in one line. */
export function describeContentSample(check: ContentSampleCheck): string {
  return [
    `content sample ${check.result}: ${check.sampled} of ${plural(check.population, 'object')} (${check.requested} asked), SHA-256 equal on ${check.equal}, ${check.mismatches} differ`,
    ...(check.not_compared > 0 ? [`${check.not_compared} not compared (source version gone)`] : []),
  ].join(', ')
}

/**
 * The deep checks of one engagement as notes for the operator: one line per check, and, when
 * objects could not be compared by checksum, what does prove their bytes.
 */
export function renderDeepChecks(engagementId: string, checks: DeepChecks | null | undefined): string[] {
  if (!checks) return []
  const lines: string[] = []
  if (checks.checksums) lines.push(`${engagementId}: ${describeChecksumCheck(checks.checksums)}`)
  if (checks.content_sample) lines.push(`${engagementId}: ${describeContentSample(checks.content_sample)}`)
  if (checks.checksums && checks.checksums.not_comparable > 0) {
    lines.push(
      `${engagementId}: objects not comparable by checksum rest on identity verification; only their bytes prove their content: --content-sample N compares N objects drawn at random (N at least the object count compares all)`,
    )
  }
  return lines
}

export function sum<T extends {[key in K]: number}, K extends keyof T>(items: T[], key: K): number {
  return items.reduce((total, item) => total + item[key], 0)
}

/** What the Batch Operations engine did for one engagement, in one line. */
export function renderBatch(engagementId: string, batch: BulkOutcome): string {
  const local = `${plural(batch.copied_locally, 'object')} copied by the local engine`
  if (batch.job_id === null) return `${engagementId}: no S3 Batch Operations job was needed; ${local}`
  const retried = batch.retried_locally > 0 ? `, ${batch.retried_locally} retried by the local engine` : ''
  return `${engagementId}: S3 Batch Operations job ${batch.job_id}${batch.reattached ? ' (re-attached)' : ''}: ${batch.succeeded} of ${plural(batch.tasks, 'task')} succeeded, ${batch.failed} failed${retried}; ${local}`
}
