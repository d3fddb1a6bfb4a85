/**
 * Reading an object as a stream, for bodies too large to hold (audit-log shards on export).
 * Only reads opened here are timed as streams (cut by the idle timeout alone, never by the
 * per-attempt deadline, so a long export is not cut while bytes flow); every other GetObject
 * (the index, a shard read to append to it, findings) must complete within the deadline.
 */
import {createInterface} from 'node:readline'
import {PassThrough, type Readable} from 'node:stream'

import {GetObjectCommand, type GetObjectCommandInput, type S3Client} from '@aws-sdk/client-s3'
import {Upload} from '@aws-sdk/lib-storage'

import {attempt, awsErrorCode, describeAwsError, httpStatus, isPreconditionFailure} from '../errors.js'
import type {ObjectLocation} from './conditional.js'
import {type VersionLocation, pinnableVersion} from './object-version.js'

const streamedInputs = new WeakSet<object>()

/** Whether a command's input was opened as a stream here (read by the client's timing middleware). */
export function isStreamedRead(input: unknown): boolean {
  return typeof input === 'object' && input !== null && streamedInputs.has(input)
}

/** The object's body as a stream; the caller reads it to the end or destroys it. */
export async function openObjectStream(s3: S3Client, location: ObjectLocation, action: string): Promise<Readable> {
  const input: GetObjectCommandInput = {
    Bucket: location.bucket,
    Key: location.key,
    ExpectedBucketOwner: location.expectedOwner,
  }
  streamedInputs.add(input)
  return attempt({action, bucket: location.bucket, key: location.key}, async () => {
    const reply = await s3.send(new GetObjectCommand(input))
    return reply.Body as unknown as Readable
  })
}

/**
 * One object version's body as a stream, pinned to its version id (or, for an object without a
 * real version id, to the ETag it must still have: a changed object is not read), or undefined
 * when that version is not there. Timed as a stream like {@link openObjectStream}; the caller
 * reads it to the end or destroys it.
 */
export async function openObjectVersionStream(
  s3: S3Client,
  location: VersionLocation,
  options: {action: string; ifMatch?: string},
): Promise<{body: Readable; etag: string | undefined} | undefined> {
  const versionId = pinnableVersion(location.versionId)
  const input: GetObjectCommandInput = {
    Bucket: location.bucket,
    Key: location.key,
    VersionId: versionId,
    IfMatch: versionId === undefined ? options.ifMatch : undefined,
    ExpectedBucketOwner: location.expectedOwner,
  }
  streamedInputs.add(input)
  try {
    const reply = await s3.send(new GetObjectCommand(input))
    return {body: reply.Body as unknown as Readable, etag: reply.ETag}
  } catch (error) {
    const code = awsErrorCode(error)
    // A version that is gone, or an unversioned object that changed (412): not the bytes asked for.
    if (
      code === 'NoSuchKey' ||
      code === 'NoSuchVersion' ||
      isPreconditionFailure(error) ||
      (httpStatus(error) === 404 && code !== 'NoSuchBucket')
    )
      return undefined
    throw describeAwsError(error, {action: options.action, bucket: location.bucket, key: location.key})
  }
}

/** The object's text, line by line, streamed (never held whole). */
export async function* readLines(s3: S3Client, location: ObjectLocation, action: string): AsyncGenerator<string> {
  const body = await openObjectStream(s3, location, action)
  const lines = createInterface({input: body, crlfDelay: Number.POSITIVE_INFINITY})
  try {
    for await (const line of lines) yield line
  } finally {
    lines.close()
    body.destroy()
  }
}

/**
 * A new object written as a stream of text (a multipart upload of 8 MiB parts, so memory stays
 * bounded however much is written): `write` waits while the upload catches up; `finish` ends the
 * stream and returns the object's ETag and version id. Written only when the key is absent.
 */
export class StreamingUpload {
  private readonly stream = new PassThrough()
  private readonly upload: Upload
  private readonly done: Promise<{ETag?: string; VersionId?: string}>
  private failure: unknown

  constructor(
    s3: S3Client,
    private readonly location: ObjectLocation,
    contentType: string,
    private readonly action: string,
  ) {
    this.upload = new Upload({
      client: s3,
      params: {
        Bucket: location.bucket,
        Key: location.key,
        Body: this.stream,
        ContentType: contentType,
        ExpectedBucketOwner: location.expectedOwner,
        IfNoneMatch: '*',
      },
      partSize: 8 * 1024 * 1024,
      queueSize: 2,
    })
    this.done = this.upload.done().catch((error: unknown) => {
      this.failure = error
      this.stream.destroy()
      throw error
    })
    // Observed by finish(); a failure before then must not be an unhandled rejection.
    this.done.catch(() => {})
  }

  async write(text: string): Promise<void> {
    if (this.failure !== undefined)
      throw describeAwsError(this.failure, {action: this.action, bucket: this.location.bucket, key: this.location.key})
    if (!this.stream.write(text))
      await new Promise<void>((resolve) => this.stream.once('drain', resolve).once('close', resolve))
  }

  async finish(): Promise<{etag: string | null; versionId: string | null}> {
    this.stream.end()
    try {
      const reply = await this.done
      return {etag: reply.ETag ?? null, versionId: reply.VersionId ?? null}
    } catch (error) {
      throw describeAwsError(error, {action: this.action, bucket: this.location.bucket, key: this.location.key})
    }
  }

  /** Gives up: the upload is aborted and nothing is written. */
  async abort(): Promise<void> {
    await this.upload.abort().catch(() => {})
    this.stream.destroy()
    await this.done.catch(() => {})
  }
}
