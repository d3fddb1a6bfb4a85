/**
 * Exactly one engagement's objects in a bucket — the computation that migrate and delete share.
 * The layout's list prefixes are wider than the engagement (`auditforge/deliverables/eng-abc`
 * also lists `eng-abcd.json`), so every listed key must still pass `ownsKey`.
 */
import type {S3Client} from '@aws-sdk/client-s3'

import {engagementListPrefixes, ownsKey} from '../layout.js'
import {type VersionEntry, compareKeys, listObjectVersions, listObjects} from './listing.js'

/** One current object as listed. */
export interface ObjectSummary {
  key: string
  size: number
  /** Quoted ETag as S3 returns it; an MD5 only when it has no "-N" part suffix. */
  etag?: string
}

/** Exactly the engagement's own current objects in a bucket, sorted by key, collected (small engagements only). */
export async function listEngagementObjects(
  s3: S3Client,
  bucket: string,
  engagementId: string,
  expectedOwner?: string,
): Promise<ObjectSummary[]> {
  const objects: ObjectSummary[] = []
  for await (const object of listCurrentVersions(s3, bucket, engagementId, expectedOwner))
    objects.push({key: object.key, size: object.size, etag: object.etag || undefined})
  return objects
}

/**
 * Every version and delete marker of the engagement's own keys in a bucket, and nobody else's,
 * in key order (the list prefixes are walked in sorted order).
 */
export async function* listEngagementVersions(
  s3: S3Client,
  bucket: string,
  engagementId: string,
  expectedOwner?: string,
): AsyncGenerator<VersionEntry> {
  for (const prefix of [...engagementListPrefixes(engagementId)].sort(compareKeys)) {
    for await (const version of listObjectVersions(s3, {bucket, prefix, expectedOwner})) {
      if (ownsKey(engagementId, version.Key)) yield version
    }
  }
}

/** One key's current version, as a versions listing shows it. */
export interface CurrentVersion {
  key: string
  size: number
  etag: string
  /** Known only where a listing of versions gave it; current-object listings do not. */
  versionId?: string
  storageClass?: string
  /** When the version was written (server clock); known only where a listing of versions gave it. */
  lastModified?: Date
}

/**
 * The current object of each of the engagement's own keys in a bucket, in S3's key order (the
 * list prefixes are walked in sorted order). A stream: nothing is held but the page in hand.
 *
 * It lists current objects (ListObjectsV2), not versions: its keys are exact on every server
 * (some S3-compatible servers, moto among them, ignore EncodingType=url on version listings and
 * hand a CR in a key back as LF), and ETag and size are what identity needs; version ids come
 * from the copies themselves and are recorded in the evidence.
 */
export async function* listCurrentVersions(
  s3: S3Client,
  bucket: string,
  engagementId: string,
  expectedOwner?: string,
): AsyncGenerator<CurrentVersion> {
  for (const prefix of [...engagementListPrefixes(engagementId)].sort(compareKeys)) {
    for await (const object of listObjects(s3, {bucket, prefix, expectedOwner})) {
      if (!ownsKey(engagementId, object.Key)) continue
      yield {key: object.Key, size: object.Size ?? 0, etag: object.ETag ?? '', storageClass: object.StorageClass}
    }
  }
}

/**
 * The current version of each of the engagement's own keys, with its version id, in S3's key
 * order: the latest version of every key from a listing of versions (keys whose latest entry is a
 * delete marker are left out). Where the bucket is not versioned the version id is "null". A
 * stream, like {@link listCurrentVersions}; its keys come from a version listing, which some
 * servers return less exactly (see there), so callers match them against a current listing.
 */
export async function* listLatestVersions(
  s3: S3Client,
  bucket: string,
  engagementId: string,
  expectedOwner?: string,
): AsyncGenerator<CurrentVersion> {
  for (const prefix of [...engagementListPrefixes(engagementId)].sort(compareKeys)) {
    for await (const version of listObjectVersions(s3, {bucket, prefix, expectedOwner})) {
      if (version.isDeleteMarker || !version.isLatest || !ownsKey(engagementId, version.Key)) continue
      yield {
        key: version.Key,
        size: version.size,
        etag: version.etag ?? '',
        versionId: version.VersionId,
        storageClass: version.storageClass,
        lastModified: version.lastModified,
      }
    }
  }
}
