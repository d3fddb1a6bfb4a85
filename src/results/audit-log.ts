/** The `--json` results of `audit-log export`. */

export type ExportFormat = 'jsonl' | 'json'

/** `--delivery stream --output FILE` (a stream to stdout is the log itself, not a document). */
export interface ExportedToFile {
  engagement_id: string
  format: ExportFormat
  output: string
  size_bytes: number
  shard_count: number
  event_count: number
}

/** `--delivery signed_url`. An empty log uploads nothing: `signed_url` and every field about the object are null. */
export interface SignedUrlExport {
  engagement_id: string
  format: ExportFormat
  signed_url: string | null
  size_bytes: number
  shard_count: number
  event_count: number
  /**
   * Seconds the URL works for, as effectively granted: the earlier of `requested_expires_in` and
   * the expiry of the credentials that signed it (a presigned URL dies with them); null without a URL.
   */
  expires_in: number | null
  /** `--expires-in` as asked for. */
  requested_expires_in: number
  /** When the URL stops working (ISO 8601 UTC); null without a URL. */
  expires_at: string | null
  s3_bucket: string | null
  s3_key: string | null
  version_id: string | null
  empty: boolean
  /** Set when the credentials expire before `requested_expires_in`; null otherwise. */
  warning: string | null
}

/** `audit-log export` under --json. */
export type AuditLogExportResult = SignedUrlExport | ExportedToFile
