import type {SignedUrlResult} from '../lib/audit-export.js'
import {formatBytes} from './format.js'

/** The signed-URL result as a readable block for stdout. */
export function renderSignedUrl(result: SignedUrlResult): string {
  if (result.empty) return `The audit log of ${result.engagement_id} is empty: nothing was uploaded and no URL was made.`
  return [
    `Engagement:  ${result.engagement_id}`,
    `Signed URL:  ${result.signed_url}`,
    `Expires:     ${result.expires_at} (${result.expires_in} s)`,
    `Size:        ${formatBytes(result.size_bytes)}, ${result.event_count} events from ${result.shard_count} shards (${result.format})`,
    `Object:      s3://${result.s3_bucket}/${result.s3_key}${result.version_id ? ` (version ${result.version_id})` : ''}`,
  ].join('\n')
}
