/**
 * The evidence manifest of a migration, in the engagement's own bucket under the reserved
 * `auditforge/migrations/<id>/` prefix: one JSON line per object (its key, size, the source
 * identity the copy was pinned to, the target identity the copy produced, the checksum S3
 * stored), written as the copy proceeds in chunks of a few thousand lines (never held whole in
 * memory; an interrupted run loses at most the chunk in hand), and a summary per run.
 *
 * A run writes one or more segments (its copy passes, its late writes), each sorted by key. The
 * reader merges every segment of every run back into one sorted stream in which, for each key,
 * the newest line stands: the record that re-runs, the pre-flip verification and
 * `--verify-only` all read.
 */
import type {S3Client} from '@aws-sdk/client-s3'

import {migrationKeys, parseEvidenceKey} from '../layout.js'
import {compareKeys, listObjects, putObject, readText} from '../s3/index.js'
import type {DeepChecks} from './deep-check.js'
import {Cursor} from './streams.js'

/** One object's line in the evidence. */
export interface EvidenceLine {
  key: string
  size: number
  source_etag: string | null
  source_version_id: string | null
  target_etag: string | null
  target_version_id: string | null
  checksum_algorithm: string | null
  checksum_type: string | null
  checksum_value: string | null
  /**
   * `copied`: this run copied it; `proven`: the target already held it and its identity was
   * proven (by earlier evidence, or by single-part MD5 ETags on both sides); `removed`: it left
   * the source, so it was removed from the target (a delete marker) before the flip;
   * `late_write`: written to the source after the flip and copied then.
   */
  action: 'copied' | 'proven' | 'removed' | 'late_write'
}

export interface EvidenceLocation {
  bucket: string
  expectedOwner: string
  engagementId: string
}

/** Lines per chunk object: small enough that a reader holds one chunk per segment cheaply. */
export const evidenceChunkLines = 2000

/** Writes one segment of a run's evidence, chunk by chunk, as lines arrive (in key order). */
export class EvidenceWriter {
  private lines: string[] = []
  private chunk = 0
  private written = 0
  private lastKey: string | undefined

  constructor(
    private readonly s3: S3Client,
    private readonly location: EvidenceLocation,
    private readonly runId: string,
    readonly segment: string,
    private readonly chunkLines = evidenceChunkLines,
  ) {}

  async append(line: EvidenceLine): Promise<void> {
    // The reader merges segments by key; a line out of order would hide others.
    if (this.lastKey !== undefined && compareKeys(line.key, this.lastKey) <= 0) {
      throw new Error(`evidence lines out of order: ${JSON.stringify(line.key)} after ${JSON.stringify(this.lastKey)}`)
    }
    this.lastKey = line.key
    this.lines.push(JSON.stringify(line))
    if (this.lines.length >= this.chunkLines) await this.flush()
  }

  /** Writes what is left; returns how many lines and chunks the segment has. */
  async finish(): Promise<{lines: number; chunks: number}> {
    await this.flush()
    return {lines: this.written, chunks: this.chunk}
  }

  private async flush(): Promise<void> {
    if (this.lines.length === 0) return
    const key = migrationKeys.chunk(this.location.engagementId, this.runId, this.segment, ++this.chunk)
    const body = `${this.lines.join('\n')}\n`
    this.written += this.lines.length
    this.lines = []
    // A chunk is written once: a run never replaces evidence already stored.
    await putObject(this.s3, {bucket: this.location.bucket, key, expectedOwner: this.location.expectedOwner}, body, {
      contentType: 'application/x-ndjson',
      action: 'Writing migration evidence',
      ifAbsent: true,
    })
  }
}

/** The segment name for a run's n-th pass of a kind: sorts in the order the passes ran. */
export function segmentName(sequence: number, kind: 'copy' | 'late'): string {
  return `s${String(sequence).padStart(3, '0')}-${kind}`
}

/** Every evidence chunk key, grouped by segment, the groups in the order they were written. */
async function listSegments(s3: S3Client, location: EvidenceLocation): Promise<string[][]> {
  const groups = new Map<string, string[]>()
  const listing = listObjects(s3, {
    bucket: location.bucket,
    prefix: migrationKeys.prefix(location.engagementId),
    expectedOwner: location.expectedOwner,
  })
  for await (const object of listing) {
    const parsed = parseEvidenceKey(location.engagementId, object.Key)
    if (!parsed) continue
    const group = `${parsed.runId}/${parsed.segment}`
    if (!groups.has(group)) groups.set(group, [])
    groups.get(group)!.push(object.Key)
  }
  return [...groups.keys()].sort().map((group) => groups.get(group)!.sort())
}

async function* segmentLines(
  s3: S3Client,
  location: EvidenceLocation,
  chunkKeys: string[],
): AsyncGenerator<EvidenceLine> {
  for (const key of chunkKeys) {
    const stored = await readText(
      s3,
      {bucket: location.bucket, key, expectedOwner: location.expectedOwner},
      'Reading migration evidence',
    )
    if (stored === undefined) continue
    for (const text of stored.text.split('\n')) if (text.trim() !== '') yield JSON.parse(text) as EvidenceLine
  }
}

/**
 * The engagement's evidence as one stream sorted by key: for each key, the line of the newest
 * segment that has one. Memory: one chunk per segment.
 */
export async function* readEvidence(s3: S3Client, location: EvidenceLocation): AsyncGenerator<EvidenceLine> {
  const cursors = (await listSegments(s3, location)).map((chunks) => new Cursor(segmentLines(s3, location, chunks)))
  try {
    for (;;) {
      let smallest: string | undefined
      for (const cursor of cursors) {
        const line = await cursor.peek()
        if (line && (smallest === undefined || compareKeys(line.key, smallest) < 0)) smallest = line.key
      }
      if (smallest === undefined) return
      let newest: EvidenceLine | undefined
      // Later segments come later in the list: the last one holding the key wins.
      for (const cursor of cursors) if ((await cursor.peek())?.key === smallest) newest = await cursor.take()
      yield newest!
    }
  } finally {
    await Promise.all(cursors.map((cursor) => cursor.close()))
  }
}

/** What a run says of itself, written before the flip and completed after it. */
export interface EvidenceSummary {
  engagement_id: string
  run_id: string
  tool_version: string
  operator_arn: string
  source_bucket: string
  target_bucket: string
  started_at: string
  finished_at: string | null
  objects: number
  bytes: number
  copied: number
  proven: number
  removed: number
  verification: {result: 'passed' | 'failed'; checked_at: string; differences: number}
  /** The index's ETag read just before the flip, and the one the flip wrote. */
  index_etag_before: string | null
  index_etag_after: string | null
  flipped_at: string | null
  late_writes: number
  late_write_conflicts: number
  segments: string[]
  /**
   * `--checksums` and `--content-sample`, run after identity verification passed and before the
   * flip; null when neither was asked for. Absent from summaries written before deep checks.
   */
  deep_checks?: DeepChecks | null
}

/** Writes (or rewrites: the bucket is versioned, so every state stays provable) a run's summary. */
export async function writeSummary(s3: S3Client, location: EvidenceLocation, summary: EvidenceSummary): Promise<void> {
  const key = migrationKeys.summary(location.engagementId, summary.run_id)
  await putObject(
    s3,
    {bucket: location.bucket, key, expectedOwner: location.expectedOwner},
    `${JSON.stringify(summary, null, 2)}\n`,
    {
      contentType: 'application/json',
      action: 'Writing the migration summary',
    },
  )
}

/** The summaries of every run, oldest first. */
export async function readSummaries(s3: S3Client, location: EvidenceLocation): Promise<EvidenceSummary[]> {
  const summaries: EvidenceSummary[] = []
  const listing = listObjects(s3, {
    bucket: location.bucket,
    prefix: migrationKeys.prefix(location.engagementId),
    expectedOwner: location.expectedOwner,
  })
  const keys: string[] = []
  for await (const object of listing) if (object.Key.endsWith('/summary.json')) keys.push(object.Key)
  for (const key of keys.sort()) {
    const stored = await readText(
      s3,
      {bucket: location.bucket, key, expectedOwner: location.expectedOwner},
      'Reading the migration summary',
    )
    if (stored) summaries.push(JSON.parse(stored.text) as EvidenceSummary)
  }
  return summaries
}

/**
 * A `migrate --verify-only` run with deep checks, stored as its own object next to the runs
 * (`auditforge/migrations/<id>/verifications/<verification id>.json`): what was verified, when,
 * by whom, against which evidence run, and what the deep checks found.
 */
export interface VerificationRecord {
  engagement_id: string
  verification_id: string
  tool_version: string
  operator_arn: string
  source_bucket: string
  target_bucket: string
  checked_at: string
  /** The evidence run verified against; null for a migration from before evidence. */
  evidence_run: string | null
  result: 'passed' | 'failed'
  /** Differences found, deep-check failures and unproven objects included. */
  differences: number
  /** Without evidence: objects neither MD5 ETags, checksums nor bytes could prove. */
  unproven: number
  late_writes: number
  changed_since_migration: number
  new_in_target: number
  deep_checks: DeepChecks
}

/** Stores a verification record; written once (a conditional put), never replaced. */
export async function writeVerificationRecord(
  s3: S3Client,
  location: EvidenceLocation,
  record: VerificationRecord,
): Promise<string> {
  const key = migrationKeys.verification(location.engagementId, record.verification_id)
  await putObject(
    s3,
    {bucket: location.bucket, key, expectedOwner: location.expectedOwner},
    `${JSON.stringify(record, null, 2)}\n`,
    {
      contentType: 'application/json',
      action: 'Writing the migration verification record',
      ifAbsent: true,
    },
  )
  return key
}

/** The newest verification record (the names sort by time), or null when there is none. */
export async function readLatestVerificationRecord(
  s3: S3Client,
  location: EvidenceLocation,
): Promise<VerificationRecord | null> {
  const prefix = migrationKeys.verificationsPrefix(location.engagementId)
  let latest: string | undefined
  for await (const object of listObjects(s3, {
    bucket: location.bucket,
    prefix,
    expectedOwner: location.expectedOwner,
  })) {
    if (object.Key.endsWith('.json') && (latest === undefined || object.Key > latest)) latest = object.Key
  }
  if (latest === undefined) return null
  const stored = await readText(
    s3,
    {bucket: location.bucket, key: latest, expectedOwner: location.expectedOwner},
    'Reading the migration verification record',
  )
  return stored ? (JSON.parse(stored.text) as VerificationRecord) : null
}
