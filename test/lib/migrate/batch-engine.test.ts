/**
 * The batch engine in process, on moto and the loopback job service, with its limits injected:
 * an object over the job's size limit (5 GB in production, 64 bytes here) and an object that is
 * not STANDARD are copied by the local engine (part by part, like a >5 GiB object) in the same
 * run, while the job copies the rest; everything is verified and recorded as one migration.
 */
import {GetObjectCommand, HeadObjectCommand, PutObjectCommand} from '@aws-sdk/client-s3'
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {type AwsContext, createAwsContext} from '../../../src/lib/aws.js'
import {resolveSettings} from '../../../src/lib/config.js'
import {createBatchEngine, executeMigration, planMigration} from '../../../src/lib/migrate/index.js'
import {batchJobService} from '../../fixtures/batch-job-service.js'
import {putIndex, randomEngagementId, readIndex, recordsOf, seedRecord} from '../../helpers/commands.js'
import {createSharedBucket, getText, motoAccountId, testS3} from '../../helpers/s3.js'

const s3 = testS3()
const service = batchJobService(inject('batchEndpoint'))
const saved = {...process.env}

beforeAll(() => {
  Object.assign(process.env, {AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing'})
})

/** The CLI's own context, built in process: moto for S3, the job service for S3 Control. */
function contextFor(sharedBucket: string): AwsContext {
  const env = {
    AWS_ENDPOINT_URL: inject('motoEndpoint'),
    AWS_ENDPOINT_URL_S3_CONTROL: inject('batchEndpoint'),
    AWS_REGION: 'us-east-1',
    AUDITFORGE_ACCOUNT_ID: motoAccountId,
  }
  return createAwsContext(resolveSettings({'shared-bucket': sharedBucket}, env))
}

afterAll(() => {
  process.env = saved
})

describe('the batch engine beside the local engine', () => {
  it(
    'leaves objects over its size limit and objects that are not STANDARD to the local engine in the same run',
    {timeout: 60_000},
    async () => {
      const bucket = await createSharedBucket(s3, 'batch-engine')
      const id = randomEngagementId()
      await putIndex(s3, bucket, {engagements: [seedRecord(id)]})
      const key = (name: string) => `auditforge/engagements/${id}/source/${name}`
      const big = key('scan.bin')
      const infrequent = key('archive-ia.txt')
      const small = ['a.txt', 'b.txt', 'c d.txt'].map(key)
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: big,
          Body: 'x'.repeat(200),
          ContentType: 'application/octet-stream',
          Metadata: {origin: 'scanner'},
        }),
      )
      await s3.send(
        new PutObjectCommand({Bucket: bucket, Key: infrequent, Body: 'rarely read', StorageClass: 'STANDARD_IA'}),
      )
      for (const name of small) await s3.send(new PutObjectCommand({Bucket: bucket, Key: name, Body: `small ${name}`}))

      const context = contextFor(bucket)
      const plan = await planMigration(context, bucket)
      const engine = createBatchEngine(context, bucket, {
        choice: 'batch',
        roleArn: 'arn:aws:iam::123456789012:role/batch',
        maxObjectBytes: 64,
        pollIntervals: [100],
      })
      const [outcome] = await executeMigration(context, plan, {bulk: engine, multipartThreshold: 64})

      expect(outcome.error).toBeUndefined()
      expect(outcome).toMatchObject({
        status: 'migrated',
        copied: 5,
        batch: {tasks: 3, succeeded: 3, failed: 0, retried_locally: 0, copied_locally: 2},
      })
      const [job] = await service.jobs(id)
      const manifest = await getText(s3, bucket, job.manifest.objectArn.replace(`arn:aws:s3:::${bucket}/`, ''))
      expect(
        manifest
          .trim()
          .split('\n')
          .map((line) => decodeURIComponent(line.split(',')[1])),
      ).toEqual([...small].sort())
      const target = `metis-af-${id.slice(4)}-${motoAccountId}`
      // The big object went part by part (a multipart ETag) with its metadata; the other kept its storage class.
      const head = await s3.send(new HeadObjectCommand({Bucket: target, Key: big}))
      expect(head.ETag).toMatch(/-1"$/)
      expect(head.Metadata).toEqual({origin: 'scanner'})
      expect((await s3.send(new HeadObjectCommand({Bucket: target, Key: infrequent}))).StorageClass).toBe('STANDARD_IA')
      for (const name of [big, infrequent, ...small]) {
        const copied = await (
          await s3.send(new GetObjectCommand({Bucket: target, Key: name}))
        ).Body!.transformToString()
        expect(copied).toBe(await getText(s3, bucket, name))
      }
      const record = recordsOf((await readIndex(s3, bucket)).json).find((candidate) => candidate.engagement_id === id)!
      expect(record.source_bucket).toBe(target)
    },
  )
})
