/**
 * The copy-engine interface: what plan, verification and evidence need from whatever performs
 * the copies (the local engine in copy.ts; S3 Batch Operations later). A request names the
 * source object exactly as listed; the result names the source identity the copy was pinned to
 * and the target identity it produced, which is what the evidence records and verification
 * later requires to still hold.
 */
import type {StoredChecksum} from '../s3/index.js'

/** A source object as listed: what a copy is pinned to. */
export interface SourceObject {
  key: string
  size: number
  /** Quoted ETag as listed. */
  etag: string
  /** The listed version id; undefined or "null" when the source bucket is not versioned. */
  versionId?: string
  storageClass?: string
}

export interface CopyRequest {
  source: SourceObject
  /**
   * Whether the target holds the key now. When it does not, the copy is conditional on that
   * (If-None-Match: *), so a copy never replaces what someone else wrote meanwhile.
   */
  targetHasKey: boolean
  /**
   * Once the record points at the target the application writes there too, and a copy may
   * replace only what the migration wrote: the ETag of that object (If-Match), or null for a key
   * the target must not have (If-None-Match: *). A failed target condition then fails the copy
   * with code `target_changed`; it is never retried over what the application wrote.
   */
  replaces?: string | null
}

/** What the target holds after a copy: the version the copy wrote. */
export interface TargetIdentity {
  etag: string | null
  versionId: string | null
  checksum: StoredChecksum | null
}

export interface CopiedObject {
  /** The source identity the copy was pinned to (re-read when the listed one had changed). */
  source: SourceObject
  target: TargetIdentity
}

/**
 * Copies one object. Fails with an AuditforgeError: code `source_vanished` when the key left
 * the source (deleted mid-run), `archived` when the source is in GLACIER or DEEP_ARCHIVE and
 * not restored (the message names the key and says to restore it first), anything else as the
 * storage layer describes it; `target_changed` when `replaces` was given and the target no longer
 * holds it.
 */
export interface CopyEngine {
  copy(request: CopyRequest): Promise<CopiedObject>
}
