/**
 * Listing objects, object versions and multipart uploads, page by page. Every listing asks S3
 * for URL-encoded keys (`EncodingType=url`) and decodes them here, in one place: raw XML cannot
 * carry every character a key may hold (a CR is normalised to LF by XML parsers, most C0
 * controls are not allowed at all), so a key listed raw can come back as a different key.
 */
import {
  type _Object,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  type S3Client,
  paginateListBuckets,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3'

import {attempt} from '../errors.js'

/**
 * S3's listing order: keys compared as UTF-8 bytes. JavaScript's `<` compares UTF-16 code
 * units, which orders some non-ASCII keys differently; merge-joins of listings must use this.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0
  // eslint-disable-next-line no-control-regex
  if (/^[\u0000-\u007f]*$/.test(a) && /^[\u0000-\u007f]*$/.test(b)) return a < b ? -1 : 1
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

export interface ListOptions {
  bucket: string
  prefix?: string
  /** Passed as ExpectedBucketOwner; set for every per-engagement bucket. */
  expectedOwner?: string
}

/**
 * A key as listed: decoded when the answer says it is URL-encoded. S3 encodes a space as `+`
 * (form encoding) and a literal `+` as `%2B`; servers that answer unencoded (some S3-compatible
 * ones ignore the parameter) say so by leaving `EncodingType` out, and their keys are used as
 * they are.
 */
export function decodeListedKey(key: string, encodingType: string | undefined): string
export function decodeListedKey(key: string | undefined, encodingType: string | undefined): string | undefined
export function decodeListedKey(key: string | undefined, encodingType: string | undefined): string | undefined {
  if (key === undefined || encodingType !== 'url') return key
  return decodeURIComponent(key.replace(/\+/g, ' '))
}

/** Every current object under a prefix, one page (up to 1000 keys) at a time, keys decoded. */
export async function* listObjects(s3: S3Client, options: ListOptions): AsyncGenerator<_Object & {Key: string}> {
  const context = {action: 'Listing objects', bucket: options.bucket, key: options.prefix}
  const pages = paginateListObjectsV2(
    {client: s3, pageSize: 1000},
    {Bucket: options.bucket, Prefix: options.prefix, ExpectedBucketOwner: options.expectedOwner, EncodingType: 'url'},
  )
  const iterator = pages[Symbol.asyncIterator]()
  for (;;) {
    const page = await attempt(context, () => iterator.next())
    if (page.done) return
    for (const object of page.value.Contents ?? [])
      yield {...object, Key: decodeListedKey(object.Key ?? '', page.value.EncodingType)}
  }
}

export interface VersionEntry {
  Key: string
  VersionId?: string
  isDeleteMarker: boolean
  size: number
  /** Whether this is the key's current version (or delete marker). */
  isLatest?: boolean
  etag?: string
  storageClass?: string
  /** When the version (or delete marker) was written, by the server's clock. */
  lastModified?: Date
}

/** Every object version and delete marker under a prefix, page by page, keys decoded. */
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
          EncodingType: 'url',
        }),
      ),
    )
  let page = await fetchPage()
  for (;;) {
    // Fetch the next page before handing out this one: callers delete what they are given,
    // and once the version the markers name is deleted, servers (moto) answer with an empty
    // page, which silently ends the listing early and leaves the bucket non-empty.
    const encoding = page.EncodingType
    const nextMarker = decodeListedKey(page.NextKeyMarker, encoding)
    const next =
      page.IsTruncated && nextMarker !== undefined ? await fetchPage(nextMarker, page.NextVersionIdMarker) : undefined
    // Each page holds its versions, then its delete markers, each list in key order: a reader
    // that keeps only current versions sees them in key order across pages.
    for (const version of page.Versions ?? []) {
      yield {
        Key: decodeListedKey(version.Key!, encoding),
        VersionId: version.VersionId,
        isDeleteMarker: false,
        size: version.Size ?? 0,
        isLatest: version.IsLatest,
        etag: version.ETag,
        storageClass: version.StorageClass,
        lastModified: version.LastModified,
      }
    }
    for (const marker of page.DeleteMarkers ?? []) {
      yield {
        Key: decodeListedKey(marker.Key!, encoding),
        VersionId: marker.VersionId,
        isDeleteMarker: true,
        size: 0,
        isLatest: marker.IsLatest,
      }
    }
    if (!next) return
    page = next
  }
}

export interface UploadEntry {
  Key: string
  UploadId: string
}

/** Every incomplete multipart upload under a prefix, following both markers, keys decoded. */
export async function* listMultipartUploads(s3: S3Client, options: ListOptions): AsyncGenerator<UploadEntry> {
  const context = {action: 'Listing multipart uploads', bucket: options.bucket, key: options.prefix}
  let keyMarker: string | undefined
  let uploadIdMarker: string | undefined
  for (;;) {
    const page = await attempt(context, () =>
      s3.send(
        new ListMultipartUploadsCommand({
          Bucket: options.bucket,
          Prefix: options.prefix,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
          ExpectedBucketOwner: options.expectedOwner,
          EncodingType: 'url',
        }),
      ),
    )
    for (const upload of page.Uploads ?? []) {
      if (upload.Key !== undefined && upload.UploadId !== undefined) {
        yield {Key: decodeListedKey(upload.Key, page.EncodingType), UploadId: upload.UploadId}
      }
    }
    if (!page.IsTruncated) return
    keyMarker = decodeListedKey(page.NextKeyMarker, page.EncodingType)
    uploadIdMarker = page.NextUploadIdMarker
    // A truncated page without markers would list the first page again forever.
    if (keyMarker === undefined && uploadIdMarker === undefined) return
  }
}

/** The names of every general-purpose bucket the caller's account owns, page by page. */
export async function* listBucketNames(s3: S3Client): AsyncGenerator<string> {
  const iterator = paginateListBuckets({client: s3}, {})[Symbol.asyncIterator]()
  for (;;) {
    const page = await attempt({action: 'Listing buckets'}, () => iterator.next())
    if (page.done) return
    for (const bucket of page.value.Buckets ?? []) if (bucket.Name) yield bucket.Name
  }
}

/** Whether a bucket holds no object version and no delete marker at all (one short listing). */
export async function isBucketEmpty(s3: S3Client, options: Omit<ListOptions, 'prefix'>): Promise<boolean> {
  const page = await attempt({action: 'Listing object versions', bucket: options.bucket}, () =>
    s3.send(
      new ListObjectVersionsCommand({Bucket: options.bucket, MaxKeys: 1, ExpectedBucketOwner: options.expectedOwner}),
    ),
  )
  return (page.Versions ?? []).length === 0 && (page.DeleteMarkers ?? []).length === 0
}
