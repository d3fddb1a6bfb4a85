/** An object's metadata as HeadObject tells it, or undefined when the key does not exist. */
import {HeadObjectCommand, type S3Client} from '@aws-sdk/client-s3'

import {awsErrorCode, describeAwsError, httpStatus} from '../errors.js'
import type {ObjectLocation} from './conditional.js'

export interface ObjectHead {
  etag: string | null
  size: number
  versionId: string | null
  /** `AES256`, `aws:kms`, `aws:kms:dsse`, or null. */
  serverSideEncryption: string | null
  storageClass: string | null
}

/** HeadObject of the current version (or `versionId`); undefined when there is none. */
export async function readObjectHead(s3: S3Client, location: ObjectLocation & {versionId?: string}, action: string): Promise<ObjectHead | undefined> {
  try {
    const reply = await s3.send(
      new HeadObjectCommand({Bucket: location.bucket, Key: location.key, VersionId: location.versionId, ExpectedBucketOwner: location.expectedOwner}),
    )
    return {
      etag: reply.ETag ?? null,
      size: reply.ContentLength ?? 0,
      versionId: reply.VersionId ?? null,
      serverSideEncryption: reply.ServerSideEncryption ?? null,
      storageClass: reply.StorageClass ?? null,
    }
  } catch (error) {
    if (httpStatus(error) === 404 || awsErrorCode(error) === 'NotFound' || awsErrorCode(error) === 'NoSuchKey') return undefined
    throw describeAwsError(error, {action, bucket: location.bucket, key: location.key})
  }
}
