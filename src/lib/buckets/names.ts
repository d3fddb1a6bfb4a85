/** The names of per-engagement buckets for this account and prefix, and telling them apart from others. */
import type {AwsContext} from '../aws.js'
import {refused} from '../errors.js'
import {engagementBucketName, parseEngagementBucketName, validateBucketName} from '../layout.js'

/** The per-engagement bucket name for this account and prefix. */
export async function bucketNameFor(context: AwsContext, engagementId: string): Promise<string> {
  return engagementBucketName(context.settings.bucketPrefix, engagementId, await context.accountId())
}

/** Splits a per-engagement bucket name; a name of another form is refused (exit 5). */
export function parsePerEngagementBucket(context: AwsContext, bucket: string): {engagementId: string; accountId: string} {
  validateBucketName(bucket)
  const parsed = parseEngagementBucketName(context.settings.bucketPrefix, bucket)
  if (!parsed) {
    throw refused(
      `${bucket} is not a per-engagement bucket name (${context.settings.bucketPrefix}<id>-<account id>)`,
      'Per-engagement buckets are named like metis-af-6715f196fa40-741783034843; check AUDITFORGE_BUCKET_PREFIX.',
    )
  }
  return parsed
}
