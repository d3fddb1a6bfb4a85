/**
 * The local copy engine: server-side copies from the shared bucket into one engagement's
 * bucket, a bounded number in flight; objects over 5 GiB part by part (UploadPartCopy).
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  type S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3'
import type pLimit from 'p-limit'

import {attempt, describeAwsError} from '../errors.js'
import {type ObjectSummary, readObjectTags} from '../s3/index.js'
import type {ExecuteOptions} from './execute.js'

/** S3's CopyObject limit; larger objects need UploadPartCopy. */
export const maxSingleCopyBytes = 5 * 1024 ** 3

/** `bucket/key` for CopySource: the key URL-encoded, slashes kept. */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`
}

/** Server-side copies from the shared bucket to one engagement bucket, a bounded number at once. */
export class ObjectCopier {
  private readonly limit: ReturnType<typeof pLimit>
  private readonly threshold: number
  private readonly partSize: number

  constructor(
    private readonly s3: S3Client,
    private readonly source: string,
    private readonly target: string,
    private readonly owner: string,
    options: ExecuteOptions,
    limit: ReturnType<typeof pLimit>,
  ) {
    this.limit = limit
    this.threshold = options.multipartThreshold ?? maxSingleCopyBytes
    this.partSize = options.partSize ?? 512 * 1024 ** 2
  }

  /**
   * Copies every object, reporting each with what now stands in the target. The first failure
   * stops what has not started yet and is rethrown once the copies under way have finished.
   */
  async copyAll(objects: readonly ObjectSummary[], onCopied: (object: ObjectSummary, landed: ObjectSummary) => void): Promise<void> {
    let failed = false
    const results = await Promise.allSettled(
      objects.map((object) =>
        this.limit(async () => {
          if (failed) throw new Error('skipped after an earlier failure')
          const etag = await (object.size > this.threshold ? this.copyInParts(object) : this.copy(object))
          onCopied(object, {key: object.key, size: object.size, etag})
        }).catch((error: unknown) => {
          failed = true
          throw error
        }),
      ),
    )
    const rejected = results.find((result) => result.status === 'rejected')
    if (rejected) throw (rejected as PromiseRejectedResult).reason
  }

  /** Returns the new object's ETag. */
  private async copy(object: ObjectSummary): Promise<string | undefined> {
    // MetadataDirective and TaggingDirective default to COPY: content type, user metadata and
    // tags come along with the bytes.
    const reply = await attempt({action: 'Copying', bucket: this.target, key: object.key}, () =>
      this.s3.send(
        new CopyObjectCommand({
          Bucket: this.target,
          Key: object.key,
          CopySource: copySource(this.source, object.key),
          ExpectedBucketOwner: this.owner,
          ExpectedSourceBucketOwner: this.owner,
        }),
      ),
    )
    return reply.CopyObjectResult?.ETag
  }

  /** Returns the new object's ETag (a multipart one, "…-N"). */
  private async copyInParts(object: ObjectSummary): Promise<string | undefined> {
    const context = {action: 'Copying in parts', bucket: this.target, key: object.key}
    const [head, tagging] = await Promise.all([
      attempt({action: 'Reading object metadata', bucket: this.source, key: object.key}, () =>
        this.s3.send(new HeadObjectCommand({Bucket: this.source, Key: object.key, ExpectedBucketOwner: this.owner})),
      ),
      readObjectTags(this.s3, {bucket: this.source, key: object.key, expectedOwner: this.owner}),
    ])
    const tags = [...tagging].map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&')
    const upload = await attempt(context, () =>
      this.s3.send(
        new CreateMultipartUploadCommand({
          Bucket: this.target,
          Key: object.key,
          ExpectedBucketOwner: this.owner,
          ContentType: head.ContentType,
          ContentEncoding: head.ContentEncoding,
          ContentDisposition: head.ContentDisposition,
          ContentLanguage: head.ContentLanguage,
          CacheControl: head.CacheControl,
          Metadata: head.Metadata,
          Tagging: tags || undefined,
        }),
      ),
    )
    try {
      const parts: {PartNumber: number; ETag?: string}[] = []
      for (let start = 0, number = 1; start < object.size; start += this.partSize, number++) {
        const end = Math.min(start + this.partSize, object.size) - 1
        const part = await attempt(context, () =>
          this.s3.send(
            new UploadPartCopyCommand({
              Bucket: this.target,
              Key: object.key,
              UploadId: upload.UploadId!,
              PartNumber: number,
              CopySource: copySource(this.source, object.key),
              CopySourceRange: `bytes=${start}-${end}`,
              // The part must come from the very version that was measured.
              CopySourceIfMatch: object.etag,
              ExpectedBucketOwner: this.owner,
              ExpectedSourceBucketOwner: this.owner,
            }),
          ),
        )
        parts.push({PartNumber: number, ETag: part.CopyPartResult!.ETag})
      }
      const completed = await attempt(context, () =>
        this.s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.target,
            Key: object.key,
            UploadId: upload.UploadId!,
            MultipartUpload: {Parts: parts},
            ExpectedBucketOwner: this.owner,
          }),
        ),
      )
      return completed.ETag
    } catch (error) {
      await this.s3
        .send(new AbortMultipartUploadCommand({Bucket: this.target, Key: object.key, UploadId: upload.UploadId!, ExpectedBucketOwner: this.owner}))
        .catch(() => {})
      throw describeAwsError(error, context)
    }
  }
}

