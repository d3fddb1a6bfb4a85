/**
 * The files a Batch Operations job works from and reports into: the manifest (CSV of bucket,
 * URL-encoded key, version id), the sidecar beside it (the source identity each manifest line was
 * listed with, JSON lines in the same key order), and the completion report's CSV rows.
 */
import type {S3Client} from '@aws-sdk/client-s3'

import {batchKeys} from '../../layout.js'
import {StreamingUpload, compareKeys, readLines} from '../../s3/index.js'
import type {SourceObject} from '../engine.js'

/**
 * A key as a Batch Operations CSV manifest wants it: URL-encoded (RFC 3986: everything but
 * unreserved characters and `/` percent-encoded as UTF-8), so a comma, a quote, a space, a `+`,
 * a `%` or a line break in a key can neither split a CSV field nor be read back as another
 * character (a `+` left raw would be read as a space).
 */
export function encodeManifestKey(key: string): string {
  return encodeURIComponent(key)
    .replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%2F/g, '/')
}

/** A key from a manifest or a report: percent-decoded (a `+` is a space, as S3 decodes form-encoded keys). */
export function decodeManifestKey(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '))
}

/** One manifest line: `bucket,key,versionId`. Bucket names and version ids need no encoding. */
export function manifestLine(bucket: string, key: string, versionId: string): string {
  return `${bucket},${encodeManifestKey(key)},${versionId}\n`
}

/** One sidecar line: the source identity the manifest line was listed with. */
export interface SidecarEntry {
  key: string
  size: number
  etag: string
  version_id: string
  storage_class: string | null
  /**
   * The target's current version id of the key when the manifest was written: null when the
   * target did not hold the key, "null" for an unversioned object; absent (sidecars of earlier
   * releases, or not known) when it could not be read. A version the job wrote differs from it.
   */
  target_version_before?: string | null
}

/** The manifest written so far: where it is, its ETag and version (CreateJob pins it), and what it holds. */
export interface WrittenManifest {
  bucket: string
  key: string
  etag: string
  versionId: string | null
  tasks: number
  bytes: number
}

/**
 * Writes a run's manifest and sidecar as the copy pass offers objects (in key order), both as
 * streamed uploads: memory stays bounded whatever the number of objects. Nothing is written
 * until the first object.
 */
export class ManifestWriter {
  private manifest?: StreamingUpload
  private sidecar?: StreamingUpload
  private tasks = 0
  private bytes = 0
  private lastKey: string | undefined

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly engagementId: string,
    private readonly runId: string,
  ) {}

  get count(): number {
    return this.tasks
  }

  async add(source: SourceObject & {versionId: string}, targetVersionBefore?: string | null): Promise<void> {
    // The sidecar is read back in a merge-join by key: it must be in key order.
    if (this.lastKey !== undefined && compareKeys(source.key, this.lastKey) <= 0) {
      throw new Error(
        `manifest lines out of order: ${JSON.stringify(source.key)} after ${JSON.stringify(this.lastKey)}`,
      )
    }
    this.lastKey = source.key
    this.manifest ??= new StreamingUpload(
      this.s3,
      {bucket: this.bucket, key: batchKeys.manifest(this.engagementId, this.runId)},
      'text/csv',
      'Writing the Batch Operations manifest',
    )
    this.sidecar ??= new StreamingUpload(
      this.s3,
      {bucket: this.bucket, key: batchKeys.sidecar(this.engagementId, this.runId)},
      'application/x-ndjson',
      'Writing the Batch Operations manifest',
    )
    const entry: SidecarEntry = {
      key: source.key,
      size: source.size,
      etag: source.etag,
      version_id: source.versionId,
      storage_class: source.storageClass ?? null,
      ...(targetVersionBefore === undefined ? {} : {target_version_before: targetVersionBefore}),
    }
    await Promise.all([
      this.manifest.write(manifestLine(this.bucket, source.key, source.versionId)),
      this.sidecar.write(`${JSON.stringify(entry)}\n`),
    ])
    this.tasks++
    this.bytes += source.size
  }

  /** Completes both uploads; undefined when no object was added (then there is no job to run). */
  async finish(): Promise<WrittenManifest | undefined> {
    if (!this.manifest || !this.sidecar) return undefined
    const [written] = await Promise.all([this.manifest.finish(), this.sidecar.finish()])
    return {
      bucket: this.bucket,
      key: batchKeys.manifest(this.engagementId, this.runId),
      etag: written.etag ?? '',
      versionId: written.versionId,
      tasks: this.tasks,
      bytes: this.bytes,
    }
  }

  async abort(): Promise<void> {
    await Promise.all([this.manifest?.abort(), this.sidecar?.abort()])
  }
}

/** A run's sidecar, entry by entry, in key order; streamed. */
export async function* readSidecar(
  s3: S3Client,
  bucket: string,
  engagementId: string,
  runId: string,
): AsyncGenerator<SidecarEntry> {
  for await (const text of readLines(
    s3,
    {bucket, key: batchKeys.sidecar(engagementId, runId)},
    'Reading the Batch Operations manifest',
  )) {
    if (text.trim() !== '') yield JSON.parse(text) as SidecarEntry
  }
}

/**
 * CSV rows (RFC 4180: fields in double quotes may hold commas, doubled quotes and line breaks)
 * from a stream of lines. A completion report's result message can be quoted text of any kind.
 */
export async function* csvRows(lines: AsyncIterable<string>): AsyncGenerator<string[]> {
  let fields: string[] = []
  let field = ''
  let quoted = false
  let pending = false
  for await (const line of lines) {
    if (pending) field += '\n'
    for (let i = 0; i < line.length; i++) {
      const char = line[i]
      if (quoted) {
        if (char === '"' && line[i + 1] === '"') {
          field += '"'
          i++
        } else if (char === '"') quoted = false
        else field += char
      } else if (char === '"') quoted = true
      else if (char === ',') {
        fields.push(field)
        field = ''
      } else field += char
    }
    if (quoted) {
      pending = true
      continue
    }
    fields.push(field)
    if (!(fields.length === 1 && fields[0] === '')) yield fields
    fields = []
    field = ''
    pending = false
  }
  if (pending) {
    fields.push(field)
    yield fields
  }
}
