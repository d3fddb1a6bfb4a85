/**
 * The engagement index, `auditforge/engagements.json` in the shared bucket: how the platform
 * finds engagements. The platform application reads the same file, so every rewrite keeps
 * fields this tool does not know and the document's top-level shape, and every rewrite is a
 * conditional write so that concurrent operators never lose each other's changes.
 */
import {isDeepStrictEqual} from 'node:util'

import type {S3Client} from '@aws-sdk/client-s3'

import {AuditforgeError, ExitCode, nonS3Answer, notFound} from './errors.js'
import {type EngagementRecord, type IndexShape, cloneRecords, parseIndex, serializeIndex} from './index-document.js'
import {indexKey, validateEngagementId} from './layout.js'
import {readText, writeConditionally} from './s3/index.js'

export type {EngagementRecord} from './index-document.js'
export {parseIndex, serializeIndex} from './index-document.js'

interface IndexSnapshot {
  records: EngagementRecord[]
  /** undefined when the index does not exist yet. */
  etag?: string
  shape: IndexShape
}

/**
 * A change to the index: returns the new records, or undefined when the change is already in
 * place (for instance because this very write landed on an earlier attempt).
 */
export type IndexChange = (records: EngagementRecord[]) => EngagementRecord[] | undefined

export interface IndexOptions {
  /** How many conditional writes to try before giving up with exit 6. */
  maxAttempts?: number
  /** Waits between attempts; injectable so tests do not sleep. */
  sleep?: (ms: number) => Promise<void>
}

/** Reads and conditionally rewrites the engagement index in the shared bucket. */
export class EngagementIndex {
  private readonly maxAttempts: number
  private readonly sleep?: (ms: number) => Promise<void>

  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
    options: IndexOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 10
    this.sleep = options.sleep
  }

  /** The index as stored now; a missing file is an empty index. */
  async read(): Promise<IndexSnapshot> {
    const stored = await readText(this.s3, {bucket: this.bucket, key: indexKey}, 'Reading the engagement index')
    if (stored === undefined) return {records: [], shape: {kind: 'wrapped', document: {}, nested: 'array'}}
    // S3 sends a strong ETag with every object. A 200 without one, or with a weak one (W/"…", as
    // web frameworks make them), came from something else (a wrong endpoint answering JSON):
    // calling that body a corrupt index would advise "restoring" a file that is fine, and a
    // rewrite would send the index to a server that is not S3.
    if (!stored.etag || stored.etag.startsWith('W/')) {
      throw nonS3Answer(
        `Reading the engagement index s3://${this.bucket}/${indexKey}`,
        `HTTP 200 ${stored.etag ? 'with a weak ETag' : 'without an ETag'}`,
      )
    }
    return {...parseIndex(stored.text, this.bucket), etag: stored.etag}
  }

  async list(): Promise<EngagementRecord[]> {
    return (await this.read()).records
  }

  /** One record; exit 3 (with `suggestion`) when the index has no such engagement. */
  async get(
    engagementId: string,
    suggestion = 'List engagements with `auditforge engagement list`.',
  ): Promise<EngagementRecord> {
    validateEngagementId(engagementId)
    const record = (await this.list()).find((candidate) => candidate.engagement_id === engagementId)
    if (!record) throw notFound(`No engagement ${engagementId} in s3://${this.bucket}/${indexKey}`, suggestion)
    return record
  }

  /**
   * Applies one change with a conditional write (If-Match the ETag read, or If-None-Match: *
   * when the file does not exist yet). When someone else wrote in between, re-reads,
   * re-applies the change and retries with jittered backoff; after `maxAttempts`, exit 6.
   * Returns the records as written (or as found, when the change was already in place).
   */
  async update(change: IndexChange): Promise<EngagementRecord[]> {
    let written: EngagementRecord[] = []
    let before: string | undefined
    const result = await writeConditionally(
      this.s3,
      {
        bucket: this.bucket,
        action: 'Writing the engagement index',
        subject: `The engagement index s3://${this.bucket}/${indexKey}`,
        maxAttempts: this.maxAttempts,
        sleep: this.sleep,
      },
      async () => {
        const snapshot = await this.read()
        before = snapshot.etag
        const records = change(cloneRecords(snapshot.records))
        written = records ?? snapshot.records
        if (records === undefined) return undefined
        return {
          key: indexKey,
          body: serializeIndex(records, snapshot.shape),
          contentType: 'application/json',
          ifMatch: snapshot.etag,
        }
      },
    )
    this.lastWrite = result.outcome === 'written' ? {before: before ?? null, after: result.etag ?? null} : undefined
    return written
  }

  /**
   * The index's ETag read just before this instance's last write and the one that write
   * produced (null when the answer was lost): the evidence of a migration's flip.
   */
  lastWrite: {before: string | null; after: string | null} | undefined

  /** Adds a record; a record already there with the same content counts as done. */
  async add(record: EngagementRecord): Promise<void> {
    await this.update((records) => {
      const existing = records.find((candidate) => candidate.engagement_id === record.engagement_id)
      if (existing && isDeepStrictEqual(existing, record)) return undefined
      if (existing) {
        throw new AuditforgeError(`Engagement ${record.engagement_id} already exists in the index`, {
          code: 'conflict',
          exit: ExitCode.conflict,
        })
      }
      return [...records, record]
    })
  }

  /** Removes a record; already gone counts as done. Returns the records that remain. */
  async remove(engagementId: string): Promise<EngagementRecord[]> {
    return this.update((records) => {
      const kept = records.filter((record) => record.engagement_id !== engagementId)
      return kept.length === records.length ? undefined : kept
    })
  }

  /**
   * Points an engagement at a bucket (`""` = the shared bucket); exit 3 if it is gone. With
   * `expected`, the change is made only while the record still holds that value (exit 6 when
   * someone changed it meanwhile).
   */
  async setSourceBucket(engagementId: string, sourceBucket: string, expected?: string): Promise<EngagementRecord> {
    const records = await this.update((current) => {
      const record = current.find((candidate) => candidate.engagement_id === engagementId)
      if (!record) throw notFound(`No engagement ${engagementId} in s3://${this.bucket}/${indexKey}`)
      if (record.source_bucket === sourceBucket) return undefined
      if (expected !== undefined && (record.source_bucket ?? '') !== expected) {
        throw new AuditforgeError(
          `The record of ${engagementId} changed meanwhile (source_bucket is now ${JSON.stringify(record.source_bucket)}); it was left as it is`,
          {
            code: 'conflict',
            exit: ExitCode.conflict,
            suggestion: 'Check the engagement with `auditforge engagement show` and run again.',
          },
        )
      }
      record.source_bucket = sourceBucket
      return current
    })
    return records.find((record) => record.engagement_id === engagementId)!
  }
}
