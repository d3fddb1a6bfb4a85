/**
 * The copy-engine interface: what plan, verification and evidence need from whatever performs
 * the copies (the local engine in copy.ts, object by object; S3 Batch Operations in batch/, a
 * whole pass at once, through BulkCopyEngine below). A request names the
 * source object exactly as listed; the result names the source identity the copy was pinned to
 * and the target identity it produced, which is what the evidence records and verification
 * later requires to still hold.
 */
import type {StoredChecksum} from '../s3/index.js'
import type {EvidenceLine} from './evidence.js'
import type {PassTotals, SyncSides} from './sync.js'

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

/**
 * Where a copy pass hands the objects a bulk engine copies (S3 Batch Operations writes them into
 * its manifest). `take` is offered every object the pass would copy, in key order, and answers
 * whether it took it; what it leaves, the pass copies itself.
 */
export interface BulkSink {
  take(request: CopyRequest): Promise<boolean>
}

/** A bulk job's progress as its service reports it (DescribeJob). */
export interface BulkJobProgress {
  jobId: string
  status: string
  /** Tasks in the job, and how many have succeeded and failed so far. */
  tasks: number
  succeeded: number
  failed: number
  /** Bytes of the objects in the job (from the listing). */
  bytes: number
  /** The job's own estimate: its time active so far, scaled to the tasks left; undefined before it has one. */
  remainingSeconds?: number
}

/** What a bulk engine did in a run, for the run's outcome. */
export interface BulkOutcome {
  engine: 'batch'
  /** The Batch Operations job this run created or re-attached to; null when nothing needed it. */
  job_id: string | null
  /** Whether the job was one an earlier, interrupted run had created. */
  reattached: boolean
  tasks: number
  succeeded: number
  failed: number
  /** Failed tasks copied by the local engine instead. */
  retried_locally: number
  /** Objects the job could not take (over 5 GiB, archived, or not pinnable), copied by the local engine. */
  copied_locally: number
}

/** What the first pass of an engagement gets when a bulk engine runs it (see execute.ts). */
export interface BulkPassContext {
  /** The sides of the pass: the source, the target and the evidence so far. */
  sides: SyncSides
  /** The local engine, for what the bulk engine cannot copy and for failed tasks. */
  engine: CopyEngine
  limit: <V>(task: () => Promise<V>) => Promise<V>
  onObject: (event: {key: string; size: number; action: EvidenceLine['action'] | 'archived'}) => void
  onJob: (job: BulkJobProgress) => void
  /** The migration run: names the job and its working files. */
  runId: string
  /** Runs `pass` with a fresh evidence segment of the run (each segment in key order). */
  withSegment: <T>(pass: (record: (line: EvidenceLine) => Promise<void>) => Promise<T>) => Promise<T>
  /** Proves the run still holds the engagement's lease (renewing it); called right before a job is created. */
  checkpoint?: () => Promise<void>
}

/** An earlier run's bulk job for an engagement that is still active: it may yet write into the engagement's bucket. */
export interface EarlierBulkJob {
  jobId: string
  status: string
  /** The error a run that cannot adopt the job ends the engagement with (names the job and what to do). */
  refusal: Error
}

/**
 * Looked at before any run copies into an engagement's bucket, whatever its engine: an earlier
 * run's bulk job still active for it (undefined: none). A finished job whose results no run has
 * read is settled on the way (its objects are then proven or copied by identity).
 */
export interface BulkJobGuard {
  earlierJob(engagementId: string): Promise<EarlierBulkJob | undefined>
}

/**
 * A second kind of copy engine: it copies a whole pass at once (S3 Batch Operations) rather than
 * one object at a time. It runs the first copy pass of an engagement and returns what a copy
 * pass returns, having written the same evidence lines; later passes (what moved meanwhile) and
 * verification are the local engine's and the check pass's, exactly as without it.
 */
export interface BulkCopyEngine {
  /** Whether this engagement's first pass goes to the bulk engine (the `auto` choice). */
  appliesTo(plan: {objects: number; bytes: number}): boolean
  firstPass(context: BulkPassContext): Promise<PassTotals & {bulk: BulkOutcome}>
}
