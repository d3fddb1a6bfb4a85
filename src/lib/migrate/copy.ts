/**
 * The local copy engine: compare-and-swap server-side copies from the shared bucket into one
 * engagement's bucket, behind the CopyEngine interface; objects over 5 GiB part by part
 * (UploadPartCopy).
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  type CompletedPart,
  CreateMultipartUploadCommand,
  type S3Client,
  type StorageClass,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3'

import {
  AuditforgeError,
  ExitCode,
  awsErrorCode,
  describeAwsError,
  httpStatus,
  isPreconditionFailure,
} from '../errors.js'
import {checksumOf, headObject, pinnableVersion, readObjectVersionTags} from '../s3/index.js'
import type {CopiedObject, CopyEngine, CopyRequest, SourceObject} from './engine.js'

/** S3's CopyObject limit; larger objects need UploadPartCopy. */
export const maxSingleCopyBytes = 5 * 1024 ** 3

/**
 * `bucket/key` for CopySource: the key URL-encoded, slashes kept; `?versionId=` (encoded) when
 * a version id is given, which pins the copy to exactly that version.
 */
export function copySource(bucket: string, key: string, versionId?: string): string {
  const path = `${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`
  return versionId === undefined ? path : `${path}?versionId=${encodeURIComponent(versionId)}`
}

const MiB = 1024 ** 2

/** UploadPartCopy's limits: parts of 5 MiB to 5 GiB (the last may be smaller), at most 10,000. */
export const minPartBytes = 5 * MiB
export const maxPartBytes = 5 * 1024 ** 3
export const maxParts = 10_000

const defaultPartBytes = 512 * MiB
/** Copies of one object tried in all before its source or target is declared to keep changing. */
const copyAttempts = 3
const defaultPartsInFlight = 4

/** One part of a multipart copy: bytes `start` to `end`, both inclusive (as in a Range header). */
export interface PartRange {
  partNumber: number
  start: number
  end: number
}

/**
 * The part size for an object of `size` bytes: the configured size (kept between 5 MiB and
 * 5 GiB), grown in whole MiB until the object fits in 10,000 parts. An object that would need
 * parts over 5 GiB is larger than S3 can hold (about 50 TB) and is refused.
 */
export function partSizeFor(size: number, configured: number = defaultPartBytes): number {
  const fitting = Math.ceil(Math.ceil(size / maxParts) / MiB) * MiB
  const partSize = Math.max(Math.min(Math.max(configured, minPartBytes), maxPartBytes), fitting)
  if (partSize > maxPartBytes) {
    throw new AuditforgeError(`An object of ${size} bytes does not fit in ${maxParts} parts of at most 5 GiB`, {
      code: 'too_large',
      exit: ExitCode.failed,
    })
  }
  return partSize
}

/** The byte ranges of a multipart copy, in part-number order; only the last may be short. */
export function partRanges(size: number, partSize: number): PartRange[] {
  const ranges: PartRange[] = []
  for (let start = 0, partNumber = 1; start < size; start += partSize, partNumber++) {
    ranges.push({partNumber, start, end: Math.min(start + partSize, size) - 1})
  }
  return ranges
}

export interface LocalCopyEngineOptions {
  sourceBucket: string
  targetBucket: string
  /** The account id: ExpectedBucketOwner (and ExpectedSourceBucketOwner) on every call. */
  owner: string
  /** Objects larger than this are copied part by part. Default 5 GiB, CopyObject's limit. */
  multipartThreshold?: number
  /** Default 512 MiB; grown for objects that would need more than 10,000 parts. */
  partSize?: number
  /** Parts of one object copied at once. Default 4. */
  partsInFlight?: number
}

/** The condition a copy puts on the target: If-Match an ETag, If-None-Match `*`, or none. */
interface TargetCondition {
  ifMatch?: string
  ifNoneMatch?: '*'
}

function guardOf(replaces: string | null): TargetCondition {
  return replaces === null ? {ifNoneMatch: '*'} : {ifMatch: replaces}
}

/** The source is not (or no longer) as the request named it; read it again and retry. */
class SourceNotAsRequested extends Error {}

/**
 * Server-side copies, each a compare-and-swap: pinned to the listed source version and ETag,
 * and conditional on the target lacking the key when it lacked it. When a condition fails, both
 * sides are read again and the copy retried with what is there now, a bounded number of times.
 * The result names the exact source version copied and the target version written.
 */
export class LocalCopyEngine implements CopyEngine {
  private readonly threshold: number
  private readonly partSize: number
  private readonly partsInFlight: number

  constructor(
    private readonly s3: S3Client,
    private readonly options: LocalCopyEngineOptions,
  ) {
    this.threshold = options.multipartThreshold ?? maxSingleCopyBytes
    this.partSize = options.partSize ?? defaultPartBytes
    this.partsInFlight = Math.max(1, options.partsInFlight ?? defaultPartsInFlight)
  }

  /** Copies one object; see CopyEngine for the errors. */
  async copy(request: CopyRequest): Promise<CopiedObject> {
    let {source} = request
    const {replaces} = request
    // Without `replaces`, the target condition follows what the target held when listed.
    let target: TargetCondition =
      replaces === undefined ? (request.targetHasKey ? {} : {ifNoneMatch: '*'}) : guardOf(replaces)
    for (let tried = 1; ; tried++) {
      try {
        return source.size > this.threshold
          ? await this.copyInParts(source, target)
          : await this.copyWhole(source, target)
      } catch (error) {
        if (!mustReread(error)) throw this.describe(error, source)
        // The source changed since it was listed, or the target gained (or lost) the key: the
        // copy is redone against what both hold now. Before the record flips nothing but migrate
        // writes to the engagement's bucket, so a target that gained the key is copied over;
        // after it (`replaces`), the target is the application's and a change there is final.
        const [current, targetEtag] = await Promise.all([this.readSource(source.key), this.targetEtag(source.key)])
        if (replaces !== undefined && targetEtag !== (replaces ?? undefined))
          throw this.targetChanged(source.key, error)
        if (!current) throw this.vanished(source.key, error)
        if (tried >= copyAttempts) throw this.conflict(source.key, error)
        source = current
        if (replaces === undefined) target = targetEtag === undefined ? {ifNoneMatch: '*'} : {}
      }
    }
  }

  private async copyWhole(source: SourceObject, target: TargetCondition): Promise<CopiedObject> {
    const {sourceBucket, targetBucket, owner} = this.options
    const version = pinnableVersion(source.versionId)
    // MetadataDirective and TaggingDirective default to COPY: content type, user metadata and
    // tags come along. The storage class does not: unset, the copy is STANDARD.
    const reply = await this.s3.send(
      new CopyObjectCommand({
        Bucket: targetBucket,
        Key: source.key,
        CopySource: copySource(sourceBucket, source.key, version),
        CopySourceIfMatch: source.etag,
        IfMatch: target.ifMatch,
        IfNoneMatch: target.ifNoneMatch,
        ChecksumAlgorithm: 'CRC64NVME',
        StorageClass: storageClassToKeep(source.storageClass),
        ExpectedBucketOwner: owner,
        ExpectedSourceBucketOwner: owner,
      }),
    )
    return {
      source: {...source, versionId: version ?? reply.CopySourceVersionId ?? source.versionId},
      target: {
        etag: reply.CopyObjectResult?.ETag ?? null,
        versionId: reply.VersionId ?? null,
        checksum: checksumOf(reply.CopyObjectResult),
      },
    }
  }

  private async copyInParts(source: SourceObject, target: TargetCondition): Promise<CopiedObject> {
    const {sourceBucket, targetBucket, owner} = this.options
    const version = pinnableVersion(source.versionId)
    const location = {bucket: sourceBucket, key: source.key, expectedOwner: owner, versionId: version}
    // Metadata and tags of the very version the parts are copied from; If-Match turns a
    // changed unversioned source into a 412 here rather than a mixed copy later.
    const [head, tags] = await Promise.all([
      headObject(this.s3, location, {ifMatch: source.etag}),
      readObjectVersionTags(this.s3, location),
    ])
    if (!head) throw new SourceNotAsRequested(source.key)
    const storageClass = head.StorageClass ?? source.storageClass
    const upload = await this.s3.send(
      new CreateMultipartUploadCommand({
        Bucket: targetBucket,
        Key: source.key,
        ExpectedBucketOwner: owner,
        ContentType: head.ContentType,
        ContentEncoding: head.ContentEncoding,
        ContentDisposition: head.ContentDisposition,
        ContentLanguage: head.ContentLanguage,
        CacheControl: head.CacheControl,
        Expires: head.Expires,
        Metadata: head.Metadata,
        Tagging: taggingHeader(tags),
        StorageClass: storageClassToKeep(storageClass),
        // CRC64NVME is always a full-object checksum; saying so makes a mismatch an error.
        ChecksumAlgorithm: 'CRC64NVME',
        ChecksumType: 'FULL_OBJECT',
      }),
    )
    const uploadId = upload.UploadId!
    try {
      const parts = await this.copyParts(source, version, uploadId)
      const completed = await this.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: targetBucket,
          Key: source.key,
          UploadId: uploadId,
          MultipartUpload: {Parts: parts},
          IfMatch: target.ifMatch,
          IfNoneMatch: target.ifNoneMatch,
          ExpectedBucketOwner: owner,
        }),
      )
      return {
        source: {...source, versionId: version ?? head.VersionId ?? source.versionId, storageClass},
        target: {etag: completed.ETag ?? null, versionId: completed.VersionId ?? null, checksum: checksumOf(completed)},
      }
    } catch (error) {
      try {
        await this.s3.send(
          new AbortMultipartUploadCommand({
            Bucket: targetBucket,
            Key: source.key,
            UploadId: uploadId,
            ExpectedBucketOwner: owner,
          }),
        )
      } catch {
        // Best effort: the target's lifecycle rule aborts what is left after 7 days anyway.
      }
      throw error
    }
  }

  /** Copies the parts a few at a time, started in part-number order; stops starting parts at the first failure. */
  private async copyParts(
    source: SourceObject,
    version: string | undefined,
    uploadId: string,
  ): Promise<CompletedPart[]> {
    const {sourceBucket, targetBucket, owner} = this.options
    const ranges = partRanges(source.size, partSizeFor(source.size, this.partSize))
    const parts: CompletedPart[] = []
    let next = 0
    let failure: {error: unknown} | undefined
    const worker = async (): Promise<void> => {
      while (!failure && next < ranges.length) {
        const range = ranges[next++]
        try {
          const reply = await this.s3.send(
            new UploadPartCopyCommand({
              Bucket: targetBucket,
              Key: source.key,
              UploadId: uploadId,
              PartNumber: range.partNumber,
              CopySource: copySource(sourceBucket, source.key, version),
              CopySourceRange: `bytes=${range.start}-${range.end}`,
              CopySourceIfMatch: source.etag,
              ExpectedBucketOwner: owner,
              ExpectedSourceBucketOwner: owner,
            }),
          )
          // The part's CRC64NVME goes back in Complete when S3 gave one: S3 checks it there.
          parts[range.partNumber - 1] = {
            PartNumber: range.partNumber,
            ETag: reply.CopyPartResult?.ETag,
            ...(reply.CopyPartResult?.ChecksumCRC64NVME
              ? {ChecksumCRC64NVME: reply.CopyPartResult.ChecksumCRC64NVME}
              : {}),
          }
        } catch (error) {
          failure ??= {error}
        }
      }
    }
    await Promise.all(Array.from({length: Math.min(this.partsInFlight, ranges.length)}, worker))
    if (failure) throw failure.error
    return parts
  }

  /** The source key's current version, or undefined when the key is gone. */
  private async readSource(key: string): Promise<SourceObject | undefined> {
    const {sourceBucket, owner} = this.options
    const head = await headObject(this.s3, {bucket: sourceBucket, key, expectedOwner: owner})
    if (!head) return undefined
    return {
      key,
      size: head.ContentLength ?? 0,
      etag: head.ETag ?? '',
      versionId: head.VersionId,
      storageClass: head.StorageClass ?? 'STANDARD',
    }
  }

  /** The ETag of the target's current object; undefined when it has none. */
  private async targetEtag(key: string): Promise<string | undefined> {
    const {targetBucket, owner} = this.options
    return (await headObject(this.s3, {bucket: targetBucket, key, expectedOwner: owner}))?.ETag
  }

  private targetChanged(key: string, cause: unknown): AuditforgeError {
    return new AuditforgeError(
      `Copying ${this.where(key)}: the engagement's bucket was written meanwhile; not copied over it`,
      {
        code: 'target_changed',
        exit: ExitCode.conflict,
        cause,
      },
    )
  }

  private where(key: string): string {
    return `s3://${this.options.sourceBucket}/${key} to s3://${this.options.targetBucket}/${key}`
  }

  private describe(error: unknown, source: SourceObject): AuditforgeError {
    const cause = underlying(error)
    if (awsErrorCode(cause) === 'InvalidObjectState') {
      const storageClass =
        source.storageClass ?? (cause as {StorageClass?: string}).StorageClass ?? 'GLACIER or DEEP_ARCHIVE'
      const restore = `aws s3api restore-object --bucket ${this.options.sourceBucket} --key ${shellQuoted(source.key)} --restore-request Days=7`
      return new AuditforgeError(
        `Copying s3://${this.options.sourceBucket}/${source.key}: the object is archived (${storageClass}); restore it first (${restore})`,
        {
          code: 'archived',
          exit: ExitCode.verificationFailed,
          suggestion: 'Run the migration again once the restore has finished.',
          cause,
        },
      )
    }
    return describeAwsError(error, {action: 'Copying', bucket: this.options.targetBucket, key: source.key})
  }

  private vanished(key: string, cause: unknown): AuditforgeError {
    return new AuditforgeError(`Copying ${this.where(key)}: the source object was deleted while it was being copied`, {
      code: 'source_vanished',
      exit: ExitCode.failed,
      suggestion: 'Run the migration again; it plans from what the shared bucket holds then.',
      cause,
    })
  }

  private conflict(key: string, cause: unknown): AuditforgeError {
    return new AuditforgeError(
      `Copying ${this.where(key)}: the source or the target kept changing (${copyAttempts} attempts)`,
      {
        code: 'conflict',
        exit: ExitCode.conflict,
        suggestion: 'Something else is writing these objects; run the migration again once it has stopped.',
        cause,
      },
    )
  }
}

/** The SDK error behind an error the storage layer has already described. */
function underlying(error: unknown): unknown {
  return error instanceof AuditforgeError && error.cause !== undefined ? error.cause : error
}

/** A failed condition (412), or a source key or version that is not there: read both sides again. */
function mustReread(error: unknown): boolean {
  if (error instanceof SourceNotAsRequested) return true
  const cause = underlying(error)
  const code = awsErrorCode(cause)
  if (isPreconditionFailure(cause)) return true
  return (
    code === 'NoSuchKey' ||
    code === 'NoSuchVersion' ||
    code === 'NotFound' ||
    (httpStatus(cause) === 404 && code !== 'NoSuchBucket')
  )
}

/** The StorageClass to ask for: the source's, unless it is STANDARD (what S3 writes when asked nothing). */
function storageClassToKeep(storageClass: string | undefined): StorageClass | undefined {
  return storageClass && storageClass !== 'STANDARD' ? (storageClass as StorageClass) : undefined
}

/** Tags as CreateMultipartUpload's x-amz-tagging header wants them: a URL query string. */
function taggingHeader(tags: ReadonlyMap<string, string>): string | undefined {
  const query = [...tags].map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&')
  return query || undefined
}

function shellQuoted(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`
}
