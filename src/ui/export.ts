import type {SignedUrlResult} from '../lib/audit-export.js'
import {formatBytes} from './format.js'
import {sanitize} from './terminal.js'

/** The signed-URL result as a readable block for stdout; each value sanitised, so no value can add a line. */
export function renderSignedUrl(result: SignedUrlResult): string {
  if (result.empty)
    return `The audit log of ${sanitize(result.engagement_id)} is empty: nothing was uploaded and no URL was made.`
  return [
    `Engagement:  ${sanitize(result.engagement_id)}`,
    `Signed URL:  ${sanitize(result.signed_url)}`,
    `Expires:     ${sanitize(result.expires_at)} (${result.expires_in} s${result.expires_in === result.requested_expires_in ? '' : ` of the ${result.requested_expires_in} s asked for`})`,
    `Size:        ${formatBytes(result.size_bytes)}, ${result.event_count} events from ${result.shard_count} shards (${result.format})`,
    `Object:      s3://${sanitize(result.s3_bucket)}/${sanitize(result.s3_key)}${result.version_id ? ` (version ${sanitize(result.version_id)})` : ''}`,
  ].join('\n')
}
