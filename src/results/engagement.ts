/** The `--json` results of the `engagement` commands. */
import type {EngagementRecord} from '../lib/index-document.js'
import type {TrailSelectorOutcome} from './bucket.js'

export type {EngagementRecord} from '../lib/index-document.js'

/**
 * A record as the index stores it, printed as it is: the platform writes the index too, and the
 * tool accepts a record that has only its `engagement_id` (a record without one is refused as
 * corrupt), so every other field may be missing. The known fields are strings when present
 * (`firm_id` may be null); fields the tool does not know are kept as they are.
 */
export interface StoredEngagementRecord {
  engagement_id: string
  name?: string
  client_id?: string
  firm_id?: string | null
  created_at?: string
  /** `""` (or no field at all) means the shared platform bucket. */
  source_bucket?: string
  findings_key?: string
  audit_log_key?: string
  [field: string]: unknown
}

/** `engagement create`: the record as written to the index (the tool writes every known field). */
export type EngagementCreateResult = EngagementRecord

/** `engagement show`: the record as stored (`source_bucket` "" is the shared bucket). */
export type EngagementShowResult = StoredEngagementRecord

/** `engagement list`: the records as stored. */
export interface EngagementListResult {
  engagements: StoredEngagementRecord[]
}

/** `engagement delete`. */
export interface EngagementDeleteResult {
  engagement_id: string
  source_bucket: string
  /** Object versions and delete markers removed from the shared bucket. */
  shared_objects_deleted: number
  /**
   * The engagement's own bucket: the record's, or else the one named after the engagement when
   * it exists (left by a rollback or an interrupted migration); null when there is none.
   */
  bucket_name: string | null
  /**
   * What happened to it; null when the engagement has none (`bucket_name` null). `kept` with
   * --keep-data; `decommissioned`; `gone` when the record names a bucket that no longer exists
   * (nothing to clean up, no retry); `left_in_place` when it exists but nothing proves it is this
   * engagement's of this index (tags, binding); `cleanup_failed` when removing it failed
   * (`retry_command` retries it).
   */
  bucket: 'kept' | 'decommissioned' | 'gone' | 'cleanup_failed' | 'left_in_place' | null
  bucket_objects_deleted: number
  /** With a trail configured, what became of the bucket's data-events selector on it; null otherwise. */
  trail_selector: TrailSelectorOutcome | null
  /** Why the bucket was not removed; null when it was, or was kept on purpose. */
  cleanup_error: string | null
  /** The command that retries the bucket's removal; null when there is nothing to retry. */
  retry_command: string | null
}
