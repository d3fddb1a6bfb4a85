import type {EngagementRecord} from '../lib/engagement-index.js'
import {stringifyJson} from '../lib/index-document.js'
import {renderTable} from './table.js'
import type {Rendered} from './terminal.js'

/** The index as a table: id, name, bucket (or "shared"), created. */
export function renderEngagementList(records: EngagementRecord[]): Rendered | string {
  if (records.length === 0) return 'No engagements.'
  return renderTable(
    ['Engagement', 'Name', 'Bucket', 'Created'],
    records.map((record) => [record.engagement_id, record.name, record.source_bucket || 'shared', String(record.created_at ?? '').slice(0, 10)]),
  )
}

/** One record, field by field, unknown fields included, numbers with every digit they were stored with. */
export function renderEngagement(record: EngagementRecord): Rendered {
  return renderTable(
    ['Field', 'Value'],
    Object.entries(record).map(([field, value]) => [field, typeof value === 'string' ? value : stringifyJson(value)]),
  )
}
