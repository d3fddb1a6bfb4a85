/**
 * Audit-log export (seed 003): the engagement's shards, in shard-number order, streamed as
 * JSONL (the stored bytes) or as one JSON array, to a stream, a file, or a materialized S3
 * object behind a presigned URL. Nothing holds the whole log in memory.
 */
import type {ExportFormat, ExportedToFile, SignedUrlExport} from '../results/audit-log.js'
import {randomBytes} from 'node:crypto'
import {createWriteStream, statSync} from 'node:fs'
import {rename, rm} from 'node:fs/promises'
import {basename, dirname, join, resolve} from 'node:path'
import {Readable, type Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {StringDecoder} from 'node:string_decoder'

import {GetObjectCommand, type S3Client} from '@aws-sdk/client-s3'
import {Upload} from '@aws-sdk/lib-storage'
import {getSignedUrl} from '@aws-sdk/s3-request-presigner'

import type {AwsContext} from './aws.js'
import {EngagementIndex, type EngagementRecord} from './engagement-index.js'
import {AuditforgeError, ExitCode, attempt, describeAwsError, invalidInput, isPreconditionFailure} from './errors.js'
import {engagementKeys, validateEngagementId} from './layout.js'
import {checksumOf, headObject, openObjectStream} from './s3/index.js'
import {AuditLogStore, type ShardInfo, bucketFor} from './stores.js'

export type {ExportFormat} from '../results/audit-log.js'
export type Delivery = 'stream' | 'signed_url'

export const exportFormats: readonly ExportFormat[] = ['jsonl', 'json']
export const deliveries: readonly Delivery[] = ['stream', 'signed_url']
export const minExpiresIn = 60
export const maxExpiresIn = 3600

/** Checks `--expires-in` (seed 003: 60 ≤ expires_in ≤ 3600) before any AWS call. */
export function validateExpiresIn(value: number): number {
  if (!Number.isInteger(value) || value < minExpiresIn || value > maxExpiresIn) {
    throw invalidInput(
      `--expires-in must be a whole number of seconds from ${minExpiresIn} to ${maxExpiresIn}, not ${value}`,
    )
  }
  return value
}

/** The file's folder must exist and the file must not be a folder: checked before any AWS call. */
export function validateOutputPath(path: string): string {
  const absolute = resolve(path)
  const folder = statSync(dirname(absolute), {throwIfNoEntry: false})
  if (!folder?.isDirectory()) throw invalidInput(`--output ${path}: the folder ${dirname(absolute)} does not exist`)
  if (statSync(absolute, {throwIfNoEntry: false})?.isDirectory()) throw invalidInput(`--output ${path} is a folder`)
  return absolute
}

/** Where an engagement's audit log is, and its shards in order. */
export interface ExportSource {
  engagement: EngagementRecord
  bucket: string
  expectedOwner?: string
  shards: ShardInfo[]
}

export async function resolveExportSource(
  context: AwsContext,
  sharedBucket: string,
  engagementId: string,
): Promise<ExportSource> {
  validateEngagementId(engagementId)
  const engagement = await new EngagementIndex(context.s3, sharedBucket).get(engagementId)
  const bucket = bucketFor(engagement, sharedBucket)
  const expectedOwner = bucket === sharedBucket ? undefined : await context.accountId()
  const shards = await new AuditLogStore(context, sharedBucket).listShards(
    engagementId,
    engagement.source_bucket || undefined,
  )
  return {engagement, bucket, expectedOwner, shards}
}

/** Counted while the payload streams by. */
export interface ExportCounters {
  bytes: number
  events: number
}

/**
 * The export payload as a stream of chunks. `jsonl` passes the stored bytes through, adding a
 * newline only where a shard does not end with one (so two events never glue together).
 * `json` validates every line and emits one JSON array; a line that is not JSON stops the
 * export with an error naming the shard and line. The next shard's request is opened while
 * the current one streams.
 */
export function exportPayload(
  s3: S3Client,
  source: ExportSource,
  format: ExportFormat,
  counters: ExportCounters,
): Readable {
  return Readable.from(format === 'jsonl' ? jsonlChunks(s3, source, counters) : jsonChunks(s3, source, counters), {
    objectMode: false,
  })
}

async function* shardBodies(
  s3: S3Client,
  source: ExportSource,
): AsyncGenerator<{shard: ShardInfo; body: AsyncIterable<Buffer>}> {
  const open = (shard: ShardInfo) =>
    openObjectStream(
      s3,
      {bucket: source.bucket, key: shard.key, expectedOwner: source.expectedOwner},
      'Reading an audit-log shard',
    )
  let next = source.shards.length > 0 ? open(source.shards[0]) : undefined
  try {
    for (const [i, shard] of source.shards.entries()) {
      const body = await next!
      next = i + 1 < source.shards.length ? open(source.shards[i + 1]) : undefined
      // An unawaited rejection of the prefetch would crash the process; it is awaited next turn.
      next?.catch(() => {})
      try {
        yield {shard, body}
      } finally {
        body.destroy()
      }
    }
  } finally {
    // An export that stops early (closed pipe, corrupt line) must close the prefetched response:
    // left open, its socket fails later with no 'error' listener and crashes the process.
    next?.then(
      (body) => body.on('error', () => {}).destroy(),
      () => {},
    )
  }
}

async function* jsonlChunks(s3: S3Client, source: ExportSource, counters: ExportCounters): AsyncGenerator<Buffer> {
  const newline = 0x0a
  for await (const {body} of shardBodies(s3, source)) {
    let last = newline
    for await (const chunk of body) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)
      if (buffer.length === 0) continue
      for (let i = 0; i < buffer.length; i++)
        if (buffer[i] === newline && (i > 0 ? buffer[i - 1] : last) !== newline) counters.events++
      last = buffer[buffer.length - 1]
      counters.bytes += buffer.length
      yield buffer
    }
    if (last !== newline) {
      counters.events++
      counters.bytes++
      yield Buffer.from('\n')
    }
  }
}

async function* jsonChunks(s3: S3Client, source: ExportSource, counters: ExportCounters): AsyncGenerator<Buffer> {
  const emit = (text: string) => {
    const buffer = Buffer.from(text, 'utf8')
    counters.bytes += buffer.length
    return buffer
  }
  yield emit('[')
  for await (const {shard, body} of shardBodies(s3, source)) {
    const decoder = new StringDecoder('utf8')
    let partial = ''
    let lineNumber = 0
    // Turns decoded text into array elements; the last, unfinished line waits for more text.
    const elements = (text: string, final: boolean): string => {
      const lines = (partial + text).split('\n')
      partial = final ? '' : lines.pop()!
      let out = ''
      for (const line of lines) {
        lineNumber++
        const event = line.trim()
        if (event === '') continue
        try {
          JSON.parse(event)
        } catch (error) {
          throw new AuditforgeError(
            `Audit-log shard s3://${source.bucket}/${shard.key} line ${lineNumber} is not valid JSON (${(error as Error).message})`,
            {
              code: 'invalid_audit_log',
              exit: ExitCode.failed,
              suggestion: 'Export with --format jsonl to get the lines as stored.',
            },
          )
        }
        out += `${counters.events++ === 0 ? '\n' : ',\n'}${event}`
      }
      return out
    }
    for await (const chunk of body) {
      const out = elements(decoder.write(chunk), false)
      if (out) yield emit(out)
    }
    const out = elements(decoder.end(), true)
    if (out) yield emit(out)
  }
  yield emit(counters.events === 0 ? ']\n' : '\n]\n')
}

/** What a `--delivery stream --output FILE` export wrote. */
export type StreamResult = ExportedToFile

/**
 * Streams the export to a writable (stdout). A reader that goes away (`| head`) ends the export
 * quietly: a closed pipe is not a failure of the export.
 */
export async function streamExport(
  s3: S3Client,
  source: ExportSource,
  format: ExportFormat,
  destination: Writable,
): Promise<ExportCounters & {closed: boolean}> {
  const counters = {bytes: 0, events: 0}
  try {
    await pipeline(exportPayload(s3, source, format, counters), destination, {end: false})
    return {...counters, closed: false}
  } catch (error) {
    if (
      (error as NodeJS.ErrnoException).code === 'EPIPE' ||
      (error as NodeJS.ErrnoException).code === 'ERR_STREAM_DESTROYED'
    )
      return {...counters, closed: true}
    throw error
  }
}

/** Writes the export to a temporary file beside `path` and renames it into place. */
export async function exportToFile(
  s3: S3Client,
  source: ExportSource,
  format: ExportFormat,
  path: string,
): Promise<ExportCounters> {
  const counters = {bytes: 0, events: 0}
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.partial`)
  try {
    await pipeline(
      exportPayload(s3, source, format, counters),
      createWriteStream(temporary, {flags: 'wx', mode: 0o600}),
    )
    await rename(temporary, path)
    return counters
  } catch (error) {
    await rm(temporary, {force: true})
    if (error instanceof AuditforgeError) throw error
    const code = (error as NodeJS.ErrnoException).code
    if (code && /^E[A-Z]+$/.test(code) && (error as NodeJS.ErrnoException).syscall) {
      throw new AuditforgeError(`Writing ${path}: ${(error as Error).message}`, {
        code: 'output_failed',
        exit: ExitCode.failed,
      })
    }
    throw describeAwsError(error, {action: 'Exporting the audit log', bucket: source.bucket})
  }
}

/** What a `--delivery signed_url` export made. */
export type SignedUrlResult = SignedUrlExport

const contentTypes: Record<ExportFormat, string> = {jsonl: 'application/x-ndjson', json: 'application/json'}

/**
 * Materializes the export to `auditforge/exports/<id>-<timestamp>-<token>.<ext>` in the
 * engagement's bucket (a key of its own for every request, written with If-None-Match: *) with a
 * streaming multipart upload (memory bounded by the part size and queue), presigns a GetObject
 * pinned to the uploaded version, and records an `audit_log.exported` event (actor, key,
 * version, ETag, checksum when S3 stored one, size, format, expiry; never the URL) in the
 * engagement's audit log. An empty log uploads nothing and returns `signed_url: null`.
 */
export async function exportSignedUrl(
  context: AwsContext,
  sharedBucket: string,
  source: ExportSource,
  format: ExportFormat,
  expiresIn: number,
  now: () => Date = () => new Date(),
): Promise<SignedUrlResult> {
  const id = source.engagement.engagement_id
  const base = {engagement_id: id, format, shard_count: source.shards.length, requested_expires_in: expiresIn}
  if (source.shards.every((shard) => shard.size === 0)) {
    return {
      ...base,
      signed_url: null,
      size_bytes: 0,
      event_count: 0,
      expires_in: null,
      expires_at: null,
      warning: null,
      s3_bucket: null,
      s3_key: null,
      version_id: null,
      empty: true,
    }
  }

  // The export is recorded with who asked for it: a caller that cannot be looked up fails the
  // export here, before anything is uploaded.
  const actor = await context.callerArn()
  const key = engagementKeys.export(id, now(), format)
  const counters = {bytes: 0, events: 0}
  const upload = new Upload({
    client: context.s3,
    params: {
      Bucket: source.bucket,
      Key: key,
      Body: exportPayload(context.s3, source, format, counters),
      ContentType: contentTypes[format],
      ExpectedBucketOwner: source.expectedOwner,
      // The key is new for every request; never replace an export that is already there.
      IfNoneMatch: '*',
    },
    // Memory is about partSize × (queueSize + 1): 24 MiB, whatever the size of the log.
    partSize: 8 * 1024 * 1024,
    queueSize: 2,
  })
  let uploaded: {VersionId?: string; ETag?: string} & Parameters<typeof checksumOf>[0]
  try {
    uploaded = await upload.done()
  } catch (error) {
    // The key is this request's alone (a random token in it), so If-None-Match failing means an
    // earlier attempt of this very upload landed and its answer was lost: not a conflict.
    if (!isPreconditionFailure(error))
      throw describeAwsError(error, {action: 'Uploading the export', bucket: source.bucket, key})
    uploaded = await landedExport(context.s3, source, key, counters.bytes, error)
  }
  const versionId = uploaded.VersionId
  const checksum = checksumOf(uploaded)

  const signedAt = now()
  const signedUrl = await attempt({action: 'Presigning the export', bucket: source.bucket, key}, () =>
    getSignedUrl(context.s3, new GetObjectCommand({Bucket: source.bucket, Key: key, VersionId: versionId}), {
      expiresIn,
    }),
  )
  let expiresAt = new Date(signedAt.getTime() + expiresIn * 1000)
  let warning: string | null = null
  const credentials = await context.s3.config.credentials()
  if (credentials.expiration && credentials.expiration < expiresAt) {
    expiresAt = credentials.expiration
    warning = `The credentials in use expire at ${isoSeconds(expiresAt)}, before the ${expiresIn} s asked for; the URL stops working then`
  }
  // What the URL is good for: the credentials that signed it may end first. The event and the
  // output say it the same way, beside what was asked for.
  const effectiveExpiresIn = Math.max(0, Math.floor((expiresAt.getTime() - signedAt.getTime()) / 1000))

  await new AuditLogStore(context, sharedBucket).append(
    {
      event: 'audit_log.exported',
      timestamp: isoSeconds(signedAt),
      engagement_id: id,
      actor,
      s3_bucket: source.bucket,
      s3_key: key,
      version_id: versionId ?? null,
      etag: uploaded.ETag ?? null,
      checksum,
      size_bytes: counters.bytes,
      event_count: counters.events,
      format,
      expires_in: effectiveExpiresIn,
      requested_expires_in: expiresIn,
      expires_at: isoSeconds(expiresAt),
    },
    source.engagement.source_bucket || undefined,
  )

  return {
    ...base,
    signed_url: signedUrl,
    size_bytes: counters.bytes,
    event_count: counters.events,
    expires_at: isoSeconds(expiresAt),
    s3_bucket: source.bucket,
    s3_key: key,
    version_id: versionId ?? null,
    expires_in: effectiveExpiresIn,
    empty: false,
    warning,
  }
}

/** The export an earlier attempt stored under `key`, when it holds the whole payload; else the upload's error. */
async function landedExport(s3: S3Client, source: ExportSource, key: string, size: number, cause: unknown) {
  const context = {action: 'Uploading the export', bucket: source.bucket, key}
  const head = await headObject(
    s3,
    {bucket: source.bucket, key, expectedOwner: source.expectedOwner},
    {checksums: true},
  )
  if (head?.ContentLength !== size) throw describeAwsError(cause, context)
  return head
}

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}
