/** Bucket tags: read as a map (no tag set is an empty map), written whole. */
import {GetBucketTaggingCommand, PutBucketTaggingCommand, type S3Client} from '@aws-sdk/client-s3'

import {attempt, awsErrorCode, describeAwsError} from '../errors.js'

/** The bucket's tags; a bucket without a tag set has none. */
export async function readBucketTags(
  s3: S3Client,
  bucket: string,
  expectedOwner: string | undefined,
): Promise<Map<string, string>> {
  try {
    const reply = await s3.send(new GetBucketTaggingCommand({Bucket: bucket, ExpectedBucketOwner: expectedOwner}))
    return new Map((reply.TagSet ?? []).map((tag) => [tag.Key ?? '', tag.Value ?? '']))
  } catch (error) {
    if (awsErrorCode(error) === 'NoSuchTagSet') return new Map()
    throw describeAwsError(error, {action: 'Reading the bucket tags', bucket})
  }
}

/** Replaces the bucket's whole tag set. */
export async function writeBucketTags(
  s3: S3Client,
  bucket: string,
  expectedOwner: string | undefined,
  tags: ReadonlyMap<string, string>,
): Promise<void> {
  await attempt({action: 'Tagging the bucket', bucket}, () =>
    s3.send(
      new PutBucketTaggingCommand({
        Bucket: bucket,
        ExpectedBucketOwner: expectedOwner,
        Tagging: {TagSet: [...tags].map(([Key, Value]) => ({Key, Value}))},
      }),
    ),
  )
}
