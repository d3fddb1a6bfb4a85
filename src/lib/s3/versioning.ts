/** A bucket's versioning state, as GetBucketVersioning reports it. */
import {GetBucketVersioningCommand, type S3Client} from '@aws-sdk/client-s3'

import {attempt} from '../errors.js'

/** `Enabled`, `Suspended`, or `Off` for a bucket that has never had versioning. */
export type VersioningState = 'Enabled' | 'Suspended' | 'Off'

export async function readVersioning(s3: S3Client, bucket: string, expectedOwner?: string): Promise<VersioningState> {
  const reply = await attempt({action: 'Reading versioning', bucket}, () =>
    s3.send(new GetBucketVersioningCommand({Bucket: bucket, ExpectedBucketOwner: expectedOwner})),
  )
  return reply.Status === 'Enabled' || reply.Status === 'Suspended' ? reply.Status : 'Off'
}
