import type {BulkOutcome, ChecksumCheck, ContentSampleCheck, DeepChecks, EngagementOutcome, NotComparableReason, VerifyOutcome} from '../lib/migrate/index.js'
import {plural} from './format.js'
import {renderTable} from './table.js'
import {type Rendered, sanitize} from './terminal.js'

const rule = (char: string) => char.repeat(70)
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(2)

/** The dry-run plan in seed 001's layout; each value sanitised, so no value can add a line. */
export function renderPlan(sourceBucket: string, outcomes: EngagementOutcome[]): string {
  const lines = [`Source bucket: ${sanitize(sourceBucket)}`, rule('='), `${'Engagement'.padEnd(20)}${'Target bucket'.padEnd(36)}${'Objs'.padStart(6)}${'MB'.padStart(8)}`, rule('-')]
  const planned = outcomes.filter((outcome) => outcome.status !== 'already_migrated')
  for (const outcome of planned) {
    lines.push(`${sanitize(outcome.engagement_id).padEnd(20)}${sanitize(outcome.target_bucket).padEnd(36)}${String(outcome.objects).padStart(6)}${mb(outcome.bytes).padStart(8)}`)
  }
  lines.push(rule('='), `Total: ${planned.length} engagements, ${sum(planned, 'objects')} objects, ${mb(sum(planned, 'bytes'))} MB`)
  for (const outcome of outcomes.filter((candidate) => candidate.status === 'already_migrated')) {
    lines.push(`Already migrated: ${sanitize(outcome.engagement_id)} uses ${sanitize(outcome.target_bucket)}`)
  }
  return lines.join('\n')
}

export function renderOutcomes(outcomes: EngagementOutcome[]): Rendered {
  return renderTable(
    ['Engagement', 'Target bucket', 'Status', 'Copied', 'Skipped'],
    outcomes.map((outcome) => [outcome.engagement_id, outcome.target_bucket, outcome.status, outcome.copied, outcome.skipped_existing]),
  )
}

export function renderVerification(outcomes: VerifyOutcome[]): Rendered | string {
  if (outcomes.length === 0) return 'No migrated engagements to verify.'
  return renderTable(
    ['Engagement', 'Target bucket', 'Objs', 'MB', 'Result'],
    outcomes.map((outcome) => [outcome.engagement_id, outcome.target_bucket, outcome.objects, mb(outcome.bytes), outcome.status === 'verified' ? 'ok' : `${outcome.differences.length} differences`]),
  )
}

/**
 * One engagement's verification differences, the first 20 of them, as a warning and its detail
 * lines (each difference names a key from S3; the warning prints each on a line of its own).
 */
export function renderDifferences(engagementId: string, differences: string[]): [message: string, details: string[]] {
  const shown = differences.slice(0, 20)
  const more = differences.length > shown.length ? [`… and ${differences.length - shown.length} more`] : []
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
  const reasons = Object.entries(check.not_comparable_reasons ?? {}).map(([reason, count]) => `${reasonLabels[reason as NotComparableReason] ?? reason}: ${count}`)
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
