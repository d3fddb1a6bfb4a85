/**
 * Deleting object versions in batches, with per-key errors: the building block of
 * decommissioning a bucket, removing one engagement's keys, and aborting stale uploads.
 */
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  type ObjectIdentifier,
  type S3Client,
} from '@aws-sdk/client-s3'
import pLimit from 'p-limit'

import {AuditforgeError, ExitCode, attempt} from '../errors.js'
import {type ListOptions, type VersionEntry, listMultipartUploads} from './listing.js'

export interface DeleteProgress {
  deleted: number
}

export interface DeleteVersionsOptions {
  bucket: string
  expectedOwner?: string
  /** DeleteObjects batches in flight at once. */
  concurrency?: number
  onProgress?: (progress: DeleteProgress) => void
}

/** S3's limit for one DeleteObjects call. */
export const deleteBatchSize = 1000

/**
 * Deletes the given versions with DeleteObjects in batches of at most 1000, several batches in
 * flight. A 200 response can still carry per-key `Errors`; those are failures, and after all
 * batches have run they are raised together (exit 1) naming the first few keys.
 */
export async function deleteObjectVersions(
  s3: S3Client,
  versions: AsyncIterable<Pick<VersionEntry, 'Key' | 'VersionId'>>,
  options: DeleteVersionsOptions,
): Promise<{deleted: number}> {
  const limit = pLimit(options.concurrency ?? 4)
  const inFlight = new Set<Promise<void>>()
  const failures: string[] = []
  let deleted = 0

  const deleteBatch = async (batch: ObjectIdentifier[]) => {
    const reply = await attempt({action: 'Deleting objects', bucket: options.bucket}, () =>
      s3.send(
        new DeleteObjectsCommand({
          Bucket: options.bucket,
          Delete: {Objects: batch, Quiet: true},
          ExpectedBucketOwner: options.expectedOwner,
        }),
      ),
    )
    const errors = reply.Errors ?? []
    for (const error of errors) failures.push(`${error.Key} (${error.VersionId ?? 'null'}): ${error.Code ?? 'error'}`)
    deleted += batch.length - errors.length
    options.onProgress?.({deleted})
  }

  // The first failed call stops further scheduling; batches already in flight finish.
  let firstError: unknown
  const schedule = (batch: ObjectIdentifier[]) => {
    const task: Promise<void> = limit(() => deleteBatch(batch))
      .catch((error: unknown) => {
        firstError ??= error
      })
      .finally(() => inFlight.delete(task))
    inFlight.add(task)
  }

  let batch: ObjectIdentifier[] = []
  for await (const version of versions) {
    if (firstError !== undefined) break
    batch.push({Key: version.Key, VersionId: version.VersionId})
    if (batch.length === deleteBatchSize) {
      schedule(batch)
      batch = []
      // Keep listing only a little ahead of deleting, so memory stays bounded.
      while (inFlight.size > (options.concurrency ?? 4) * 2) await Promise.race(inFlight)
    }
  }
  if (batch.length > 0 && firstError === undefined) schedule(batch)
  await Promise.all(inFlight)
  if (firstError !== undefined) throw firstError

  if (failures.length > 0) {
    throw new AuditforgeError(
      `Deleting objects in s3://${options.bucket}: ${failures.length} could not be deleted, e.g. ${failures.slice(0, 3).join('; ')}`,
      {
        code: 'delete_failed',
        exit: ExitCode.failed,
        suggestion: 'Run the command again; it deletes only what is left.',
      },
    )
  }
  return {deleted}
}

/**
 * Aborts the incomplete multipart uploads under a prefix that `select` picks (all of
 * them by default), following every page of the listing. Returns how many were aborted.
 */
export async function abortMultipartUploads(
  s3: S3Client,
  options: ListOptions & {select?: (key: string) => boolean},
): Promise<number> {
  let aborted = 0
  for await (const upload of listMultipartUploads(s3, options)) {
    if (options.select && !options.select(upload.Key)) continue
    await attempt({action: 'Aborting a multipart upload', bucket: options.bucket, key: upload.Key}, () =>
      s3.send(
        new AbortMultipartUploadCommand({
          Bucket: options.bucket,
          Key: upload.Key,
          UploadId: upload.UploadId,
          ExpectedBucketOwner: options.expectedOwner,
        }),
      ),
    )
    aborted++
  }
  return aborted
}

/**
 * Deletes the current version of one key the way a client would (no version id): in a
 * versioned bucket that leaves a delete marker, whose version id is returned, and keeps the
 * history.
 */
export async function deleteCurrentObject(
  s3: S3Client,
  location: {bucket: string; key: string; expectedOwner?: string},
): Promise<string | null> {
  const reply = await attempt({action: 'Removing an object', bucket: location.bucket, key: location.key}, () =>
    s3.send(
      new DeleteObjectCommand({
        Bucket: location.bucket,
        Key: location.key,
        ExpectedBucketOwner: location.expectedOwner,
      }),
    ),
  )
  return reply.VersionId ?? null
}
