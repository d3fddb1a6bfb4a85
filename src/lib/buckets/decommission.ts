/**
 * Decommissioning a per-engagement bucket: the checks that say it may go, and emptying and
 * deleting it.
 */
import {DeleteBucketCommand} from '@aws-sdk/client-s3'

import type {AwsContext} from '../aws.js'
import {AuditforgeError, awsErrorCode, describeAwsError, notFound, refused} from '../errors.js'
import {validateBucketName} from '../layout.js'
import {type DeleteProgress, abortMultipartUploads, deleteObjectVersions, listObjectVersions, readBucketTags} from '../s3/index.js'
import {parsePerEngagementBucket} from './names.js'
import {assertBoundTo, engagementIdTagKey, indexTagKey, managedByTag} from './tags.js'

export interface DecommissionResult {
  bucket: string
  deleted: number
  uploadsAborted: number
}

/**
 * Empties and deletes a per-engagement bucket: every object version and delete marker
 * (DeleteObjects, 1000 keys a batch, several in flight), every incomplete multipart upload,
 * then DeleteBucket. Safe to run again after an interruption. Callers check that the bucket
 * may be removed first ({@link assertDecommissionable}).
 */
export async function decommissionBucket(
  context: AwsContext,
  bucket: string,
  options: {onProgress?: (progress: DeleteProgress) => void; concurrency?: number} = {},
): Promise<DecommissionResult> {
  const owner = await context.accountId()
  const {s3} = context
  let deleted = 0
  let uploadsAborted = 0
  // Writes racing the decommission can refill the bucket; a few passes settle it.
  for (let pass = 1; ; pass++) {
    const emptied = await deleteObjectVersions(s3, listObjectVersions(s3, {bucket, expectedOwner: owner}), {
      bucket,
      expectedOwner: owner,
      concurrency: options.concurrency,
      onProgress: (progress) => options.onProgress?.({deleted: deleted + progress.deleted}),
    })
    deleted += emptied.deleted
    uploadsAborted += await abortMultipartUploads(s3, {bucket, expectedOwner: owner})
    try {
      await s3.send(new DeleteBucketCommand({Bucket: bucket, ExpectedBucketOwner: owner}))
      return {bucket, deleted, uploadsAborted}
    } catch (error) {
      if (awsErrorCode(error) === 'NoSuchBucket') return {bucket, deleted, uploadsAborted}
      if (awsErrorCode(error) !== 'BucketNotEmpty' || pass === 3) throw describeAwsError(error, {action: 'Deleting the bucket', bucket})
    }
  }
}

export interface DecommissionChecks {
  /**
   * Whether a bucket without an index binding may go: only where the caller has other proof
   * that it belongs to this index (a record of this index pointed at it).
   */
  unboundOk?: boolean
  /** The engagement whose bucket it must be (by name and by tag); by default, the one its name says. */
  engagementId?: string
}

/**
 * Refuses (exit 5) to decommission the shared bucket, a name not of the per-engagement form,
 * a bucket of another account, a bucket an engagement record still points at, a bucket
 * auditforge did not tag as its own, a bucket bound to another index, and (unless the caller
 * says otherwise) a bucket bound to no index. A bucket that does not exist is exit 3.
 */
export async function assertDecommissionable(
  context: AwsContext,
  bucket: string,
  sharedBucket: string,
  pointingRecords: string[],
  checks: DecommissionChecks = {},
): Promise<void> {
  validateBucketName(bucket)
  if (bucket === sharedBucket) throw refused(`${bucket} is the shared platform bucket; it is never decommissioned`)
  const parsed = parsePerEngagementBucket(context, bucket)
  const owner = await context.accountId()
  if (parsed.accountId !== owner) throw refused(`${bucket} belongs to account ${parsed.accountId}, not ${owner}`)
  if (pointingRecords.length > 0) {
    throw refused(
      `${bucket} is still the bucket of ${pointingRecords.join(', ')}`,
      `Delete the engagement (\`auditforge engagement delete ${pointingRecords[0]}\`) or roll it back first.`,
    )
  }
  let tags: Map<string, string>
  try {
    tags = await readBucketTags(context.s3, bucket, owner)
  } catch (error) {
    if (error instanceof AuditforgeError && error.code === 'no_such_bucket') throw notFound(`The bucket ${bucket} does not exist`)
    throw error
  }
  if (tags.get(managedByTag.Key!) !== managedByTag.Value) {
    throw refused(
      `${bucket} is not tagged ${managedByTag.Key}=${managedByTag.Value}; auditforge only removes buckets it manages`,
      `If it is an auditforge bucket, run \`auditforge bucket verify ${bucket} --fix\` first.`,
    )
  }
  // The bucket's name and its engagement tag must agree (and with the engagement being deleted).
  const expected = checks.engagementId ?? parsed.engagementId
  if (tags.get(engagementIdTagKey) !== expected || parsed.engagementId !== expected) {
    throw refused(`${bucket} is not tagged ${engagementIdTagKey}=${expected}; nothing proves whose bucket it is, so it was left untouched`)
  }
  assertBoundTo(bucket, tags.get(indexTagKey), sharedBucket, {unboundOk: checks.unboundOk ?? false, engagementId: parsed.engagementId})
}
