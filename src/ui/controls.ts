/** Bucket control checks as tables: one per bucket, a row per control, labelled by a standard's ids when asked. */
import type {BucketCheck, StandardName} from '../lib/buckets.js'
import type {TrailSelectorOutcome} from '../results/bucket.js'
import {type Column, renderTable} from './table.js'
import type {Rendered} from './terminal.js'

export const standardLabels: Record<StandardName, string> = {fsbp: 'FSBP', cis: 'CIS', prowler: 'Prowler'}

const results = {pass: 'pass', fail: 'FAIL', skipped: 'skipped'} as const

/**
 * A bucket's rows: [the standard's ids,] control, result (pass, FAIL, skipped), what was found.
 * The control and its result stay whole; on a narrow terminal the standard's ids and what was
 * found wrap.
 */
export function renderBucketCheck(check: BucketCheck, standard?: StandardName, width?: number): Rendered {
  const head: Column[] = [
    ...(standard ? [{title: `  ${standardLabels[standard]}`, fit: 'wrap' as const}] : []),
    {title: standard ? 'Control' : '  Control', fit: 'whole'},
    {title: 'Result', fit: 'whole'},
    {title: 'Found', fit: 'wrap'},
  ]
  const rows = check.controls.map((control) => [
    ...(standard ? [`  ${control.standards[standard]?.join(', ') || '—'}`] : []),
    standard ? control.control : `  ${control.control}`,
    results[control.status],
    // The result column already says skipped: the reason alone.
    control.status === 'skipped' ? control.actual.replace(/^skipped: /, '') : control.actual,
  ])
  return renderTable(head, rows, {width})
}

/** The decommission preflight: a row per check, ok or BLOCKS, with what was found. */
export function renderPreflight(checks: {check: string; ok: boolean; detail: string}[]): Rendered {
  const head: Column[] = [
    {title: '  Check', fit: 'whole'},
    {title: 'Result', fit: 'whole'},
    {title: 'Found', fit: 'wrap'},
  ]
  return renderTable(
    head,
    checks.map((check) => [`  ${check.check}`, check.ok ? 'ok' : 'BLOCKS', check.detail]),
  )
}

/** What to warn about after a decommission that was to take the bucket's selector off a trail. */
export function trailSelectorWarning(bucket: string, outcome: TrailSelectorOutcome | null): string | undefined {
  if (outcome === 'only')
    return `${bucket} is gone; its data-events selector stays on the trail, as the trail's only selector (without it the trail would log management events instead)`
  if (outcome === null || typeof outcome === 'string') return undefined
  return `${bucket} is gone, but its data-events selector is still on the trail: ${outcome.error}`
}
