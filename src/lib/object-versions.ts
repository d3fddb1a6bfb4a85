/**
 * Listing objects and object versions page by page, and deleting versions in batches: the
 * building blocks of decommissioning a bucket and of removing one engagement's keys.
 */
import {
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  type ObjectIdentifier,
  type S3Client,
  type _Object,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3'
import pLimit from 'p-limit'

import {AuditforgeError, ExitCode, attempt} from './errors.js'

export interface ListOptions {
  bucket: string
  prefix?: string
  /** Passed as ExpectedBucketOwner; set for every per-engagement bucket. */
  expectedOwner?: string
}

/** Every current object under a prefix, one page (up to 1000 keys) at a time. */
export async function* listObjects(s3: S3Client, options: ListOptions): AsyncGenerator<_Object> {
  const context = {action: 'Listing objects', bucket: options.bucket, key: options.prefix}
  const pages = paginateListObjectsV2(
    {client: s3, pageSize: 1000},
    {Bucket: options.bucket, Prefix: options.prefix, ExpectedBucketOwner: options.expectedOwner},
  )
  const iterator = pages[Symbol.asyncIterator]()
  for (;;) {
    const page = await attempt(context, () => iterator.next())
    if (page.done) return
    yield* page.value.Contents ?? []
  }
}

export interface VersionEntry {
  Key: string
  VersionId?: string
  isDeleteMarker: boolean
  size: number
}

/** Every object version and delete marker under a prefix, page by page. */
export async function* listObjectVersions(s3: S3Client, options: ListOptions): AsyncGenerator<VersionEntry> {
  const context = {action: 'Listing object versions', bucket: options.bucket, key: options.prefix}
  const fetchPage = (keyMarker?: string, versionIdMarker?: string) =>
    attempt(context, () =>
      s3.send(
        new ListObjectVersionsCommand({
          Bucket: options.bucket,
          Prefix: options.prefix,
          KeyMarker: keyMarker,
          VersionIdMarker: versionIdMarker,
          ExpectedBucketOwner: options.expectedOwner,
        }),
      ),
    )
  let page = await fetchPage()
  for (;;) {
    // Fetch the next page before handing out this one: callers delete what they are given,
    // and once the version the markers name is deleted, servers (moto) answer with an empty
    // page, which silently ends the listing early and leaves the bucket non-empty.
    const next = page.IsTruncated && page.NextKeyMarker !== undefined ? await fetchPage(page.NextKeyMarker, page.NextVersionIdMarker) : undefined
    for (const version of page.Versions ?? []) {
      yield {Key: version.Key!, VersionId: version.VersionId, isDeleteMarker: false, size: version.Size ?? 0}
    }
    for (const marker of page.DeleteMarkers ?? []) {
      yield {Key: marker.Key!, VersionId: marker.VersionId, isDeleteMarker: true, size: 0}
    }
    if (!next) return
    page = next
  }
}

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
      {code: 'delete_failed', exit: ExitCode.failed, suggestion: 'Run the command again; it deletes only what is left.'},
    )
  }
  return {deleted}
}
