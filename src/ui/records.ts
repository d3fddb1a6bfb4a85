import type {EngagementRecord} from '../lib/engagement-index.js'
import {stringifyJson} from '../lib/index-document.js'
import {renderTable} from './table.js'
import type {Rendered} from './terminal.js'

/**
 * The index as a table: id, name, bucket (or "shared"), created. The id and the bucket are
 * copied into other commands, so they are never cut: on a narrow terminal the date goes first
 * and the name wraps.
 */
export function renderEngagementList(records: EngagementRecord[]): Rendered | string {
  if (records.length === 0) return 'No engagements.'
  return renderTable(
    [
      {title: 'Engagement', fit: 'whole'},
      {title: 'Name', fit: 'wrap'},
      {title: 'Bucket', fit: 'whole'},
      {title: 'Created', drop: 1},
    ],
    records.map((record) => [
      record.engagement_id,
      record.name,
      record.source_bucket || 'shared',
      String(record.created_at ?? '').slice(0, 10),
    ]),
  )
}

/** The fields whose values are copied into other commands: never cut, never wrapped. */
const identifiers = new Set(['engagement_id', 'client_id', 'firm_id', 'source_bucket', 'findings_key', 'audit_log_key'])

/**
 * One record, field by field, unknown fields included, numbers with every digit they were stored
 * with; an empty source_bucket says `shared`, as `engagement list` does (--json keeps it as stored).
 */
export function renderEngagement(record: EngagementRecord): Rendered {
  return renderTable(
    [
      {title: 'Field', fit: 'whole'},
      {title: 'Value', fit: 'wrap'},
    ],
    Object.entries(record).map(([field, value]) => {
      const text =
        field === 'source_bucket' && value === '' ? 'shared' : typeof value === 'string' ? value : stringifyJson(value)
      return [field, identifiers.has(field) ? {value: text, fit: 'whole'} : text]
    }),
  )
}
