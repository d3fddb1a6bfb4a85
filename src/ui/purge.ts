/**
 * `migrate purge-source` for people: the checks and what would be (or was) removed, one fact a
 * line. Keys and buckets come from S3 and the index, so every value is sanitised as it is put in.
 */
import type {PurgeInspection, PurgeOutcome} from '../lib/migrate/index.js'
import {formatBytes, plural} from './format.js'
import {sanitize} from './terminal.js'

const mark = (ok: boolean | null) => (ok === null ? '–' : ok ? 'ok' : 'NO')

/** The preconditions and what the listing found. */
export function renderPurgeInspection(inspection: PurgeInspection): string {
  const {verification, removal} = inspection
  const lines = [
    `Engagement:    ${sanitize(inspection.engagement_id)}`,
    `Shared bucket: ${sanitize(inspection.shared_bucket)}`,
    `Own bucket:    [${mark(inspection.bucket !== null)}] ${inspection.bucket === null ? 'none: the record points at the shared bucket' : sanitize(inspection.bucket)}`,
    `Switched at:   [${mark(inspection.flipped_at !== null)}] ${inspection.flipped_at === null ? 'no evidence of a switch' : `${sanitize(inspection.flipped_at)} (migration run ${sanitize(inspection.evidence_run)})`}`,
    `Minimum age:   [${mark(inspection.min_age_met)}] ${sanitize(inspection.min_age)}${inspection.age_seconds === null ? '' : `, switched ${describeSeconds(inspection.age_seconds)} ago`}`,
    `Verification:  [${mark(verification.result === 'not_run' ? null : verification.result === 'passed')}] ${describeVerification(inspection)}`,
  ]
  if (removal) {
    lines.push(
      `To remove:     ${plural(removal.keys, 'key')}: ${plural(removal.versions, 'version')}, ${plural(removal.delete_markers, 'delete marker')}, ${formatBytes(removal.bytes)}`,
    )
    for (const key of removal.first_keys) lines.push(`  ${sanitize(key)}`)
    if (removal.keys > removal.first_keys.length) lines.push(`  … and ${removal.keys - removal.first_keys.length} more`)
  }
  if (inspection.unfinished_purges.length > 0)
    lines.push(
      `Unfinished:    ${inspection.unfinished_purges.map((id) => sanitize(id)).join(', ')} (finished by --execute)`,
    )
  if (inspection.last_purge)
    lines.push(
      `Last purge:    ${sanitize(inspection.last_purge.purge_id)} completed at ${sanitize(inspection.last_purge.completed_at ?? '—')}`,
    )
  return lines.join('\n')
}

/** What a purge did, in one line. */
export function describePurgeOutcome(engagementId: string, sharedBucket: string, outcome: PurgeOutcome): string {
  const {removed} = outcome
  const bytes = removed.bytes === null ? '' : ` (${formatBytes(removed.bytes)})`
  return `Purged ${engagementId} from ${sharedBucket}: ${plural(removed.versions, 'version')} and ${plural(removed.delete_markers, 'delete marker')}${bytes} removed; recorded in s3://${outcome.evidence_bucket}/${outcome.evidence_key}.`
}

function describeVerification(inspection: PurgeInspection): string {
  const {verification} = inspection
  if (verification.result === 'not_run') return 'not run'
  const base = `${verification.result} at ${sanitize(verification.checked_at ?? '—')}: ${plural(verification.objects, 'migrated object')}`
  if (verification.result === 'passed') return base
  return `${base}, ${verification.missing} missing from the own bucket, ${plural(verification.late_writes, 'late write')} in the shared bucket`
}

function describeSeconds(seconds: number): string {
  if (seconds < 0) return 'in the future (check the clock)'
  if (seconds >= 2 * 86_400) return `${Math.floor(seconds / 86_400)}d`
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)}h`
  if (seconds >= 60) return `${Math.floor(seconds / 60)}m`
  return `${seconds}s`
}
