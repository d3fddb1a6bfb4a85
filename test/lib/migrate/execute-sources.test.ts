/**
 * migrate --execute on moto, through the library, at two moments of issue 9: a write that lands
 * between the last listing and the switch (the late pass of --execute copies and records it),
 * and a same-size multipart object (a multipart ETag, not an MD5) left stale in a pre-filled
 * target (copied again before the switch).
 */
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {EngagementIndex} from '../../../src/lib/engagement-index.js'
import {executeMigration, planMigration} from '../../../src/lib/migrate/index.js'
import {expectedBucketName, putIndex, randomEngagementId, seedRecord} from '../../helpers/commands.js'
import {motoContext} from '../../helpers/library.js'
import {createSharedBucket, testS3} from '../../helpers/s3.js'

const key = (id: string, name: string) => `auditforge/engagements/${id}/${name}`
const put = (s3: S3Client, bucket: string, name: string, body: string) =>
  s3.send(new PutObjectCommand({Bucket: bucket, Key: name, Body: body}))
const read = async (s3: S3Client, bucket: string, name: string) =>
  (await s3.send(new GetObjectCommand({Bucket: bucket, Key: name}))).Body!.transformToString()

async function putMultipart(s3: S3Client, bucket: string, name: string, body: string): Promise<void> {
  const {UploadId} = await s3.send(new CreateMultipartUploadCommand({Bucket: bucket, Key: name}))
  const {ETag} = await s3.send(new UploadPartCommand({Bucket: bucket, Key: name, UploadId, PartNumber: 1, Body: body}))
  await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: name,
      UploadId,
      MultipartUpload: {Parts: [{ETag, PartNumber: 1}]},
    }),
  )
}

describe('migrate --execute: sources that move, targets pre-filled', () => {
  it('copies writes that land between the last listing and the flip (late pass of --execute), and records them', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'review-late')
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    await put(s3, shared, key(id, 'findings.json'), 'findings v1')
    const racing = testS3()
    let fired = false
    racing.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as {Key?: string}
        if (!fired && context.commandName === 'PutObjectCommand' && input.Key === 'auditforge/engagements.json') {
          fired = true
          await put(s3, shared, key(id, 'findings.json'), 'findings v2, written just before the flip')
          await put(s3, shared, key(id, 'audit_log/shard-00001.jsonl'), '{"event":"late"}\n')
        }
        return next(args)
      },
      {step: 'initialize', name: 'review-before-flip'},
    )
    const context = motoContext(shared, racing)
    const [outcome] = await executeMigration(context, await planMigration(context, shared, {engagementId: id}))
    expect(fired).toBe(true)
    expect(outcome).toMatchObject({status: 'migrated', late_writes: 2})
    const target = expectedBucketName(id)
    expect(await read(s3, target, key(id, 'findings.json'))).toBe('findings v2, written just before the flip')
    expect(await read(s3, target, key(id, 'audit_log/shard-00001.jsonl'))).toBe('{"event":"late"}\n')
  })

  it('re-copies a same-size multipart object left in a pre-filled target, and only then flips', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'review-stale-mp')
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    await putMultipart(s3, shared, key(id, 'source/big.bin'), 'NEW-CONTENT')
    const target = expectedBucketName(id)
    await s3.send(new CreateBucketCommand({Bucket: target}))
    await s3.send(new PutBucketVersioningCommand({Bucket: target, VersioningConfiguration: {Status: 'Enabled'}}))
    await s3.send(
      new PutBucketTaggingCommand({
        Bucket: target,
        Tagging: {
          TagSet: [
            {Key: 'auditforge:managed-by', Value: 'auditforge'},
            {Key: 'auditforge:engagement-id', Value: id},
            {Key: 'auditforge:index', Value: shared},
          ],
        },
      }),
    )
    await putMultipart(s3, target, key(id, 'source/big.bin'), 'OLD-CONTENT')
    const context = motoContext(shared)
    const [outcome] = await executeMigration(context, await planMigration(context, shared, {engagementId: id}))
    expect(outcome).toMatchObject({status: 'migrated', copied: 1, skipped_existing: 0})
    expect(await read(s3, target, key(id, 'source/big.bin'))).toBe('NEW-CONTENT')
    expect((await new EngagementIndex(s3, shared).get(id)).source_bucket).toBe(target)
  })
})
