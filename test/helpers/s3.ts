/**
 * An SDK client pointed at the test's moto, for checking state independently of the code under
 * test, and unique names so test files sharing one moto never collide.
 */
import {randomBytes} from 'node:crypto'

import {
  CreateBucketCommand,
  GetObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import {inject} from 'vitest'

/** moto's fixed account id for the fake credentials. */
export const motoAccountId = '123456789012'

export function testS3(): S3Client {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  return new S3Client({
    region: 'us-east-1',
    endpoint: inject('motoEndpoint'),
    forcePathStyle: true,
    credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
    // As the CLI does on a custom endpoint: moto's stored CRC64NVME of a copied object does not
    // always match its bytes, and a test witness must not fail on the server's bookkeeping.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  })
}

export function uniqueName(stem: string): string {
  return `${stem}-${randomBytes(4).toString('hex')}`
}

/** A fresh, versioned shared bucket, as the platform's would be. */
export async function createSharedBucket(s3: S3Client, stem = 'shared'): Promise<string> {
  const bucket = uniqueName(stem)
  await s3.send(new CreateBucketCommand({Bucket: bucket}))
  await s3.send(new PutBucketVersioningCommand({Bucket: bucket, VersioningConfiguration: {Status: 'Enabled'}}))
  return bucket
}

export async function putText(
  s3: S3Client,
  bucket: string,
  key: string,
  body: string,
  contentType = 'text/plain',
): Promise<void> {
  await s3.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: body, ContentType: contentType}))
}

export async function getText(s3: S3Client, bucket: string, key: string): Promise<string> {
  const reply = await s3.send(new GetObjectCommand({Bucket: bucket, Key: key}))
  return reply.Body!.transformToString('utf8')
}
