/**
 * Reading one object version: its metadata (HeadObject) and its tags, pinned to a version id
 * when there is a real one, so what is read belongs to exactly the version that is being copied
 * or checked, not to whatever became current meanwhile.
 */
import {
  GetObjectTaggingCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3'

import type {ObjectLocation} from './conditional.js'

import {attempt, awsErrorCode, describeAwsError, httpStatus} from '../errors.js'

export interface VersionLocation extends ObjectLocation {
  /** A version id as listed; undefined or "null" (an unversioned object) reads the current version. */
  versionId?: string
}

/**
 * The version id to pin a request to, or undefined: S3 lists "null" for objects written while
 * the bucket was unversioned, and such an object is addressed without a version id.
 */
export function pinnableVersion(versionId: string | undefined): string | undefined {
  return versionId && versionId !== 'null' ? versionId : undefined
}

/**
 * The object's (or version's) metadata, or undefined when it is not there (404; a HEAD has no
 * body, so a missing key and a missing version look alike). With `ifMatch`, an object whose
 * ETag differs fails with 412 (described as a conflict) instead of being read.
 */
export async function headObject(
  s3: S3Client,
  location: VersionLocation,
  options: {ifMatch?: string; checksums?: boolean} = {},
): Promise<HeadObjectCommandOutput | undefined> {
  try {
    return await s3.send(
      new HeadObjectCommand({
        Bucket: location.bucket,
        Key: location.key,
        VersionId: pinnableVersion(location.versionId),
        IfMatch: options.ifMatch,
        ExpectedBucketOwner: location.expectedOwner,
        ...(options.checksums ? {ChecksumMode: 'ENABLED' as const} : {}),
      }),
    )
  } catch (error) {
    const code = awsErrorCode(error)
    if (
      code === 'NotFound' ||
      code === 'NoSuchKey' ||
      code === 'NoSuchVersion' ||
      (httpStatus(error) === 404 && code !== 'NoSuchBucket')
    )
      return undefined
    throw describeAwsError(error, {action: 'Reading object metadata', bucket: location.bucket, key: location.key})
  }
}

/** The tags of the object's version (the current one without a version id); none is an empty map. */
export async function readObjectVersionTags(s3: S3Client, location: VersionLocation): Promise<Map<string, string>> {
  const reply = await attempt({action: 'Reading object tags', bucket: location.bucket, key: location.key}, () =>
    s3.send(
      new GetObjectTaggingCommand({
        Bucket: location.bucket,
        Key: location.key,
        VersionId: pinnableVersion(location.versionId),
        ExpectedBucketOwner: location.expectedOwner,
      }),
    ),
  )
  return new Map((reply.TagSet ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']))
}
