/**
 * Review of the `created` flag that migrate now trusts to skip listing the target in its first
 * pass (execute.ts:134, sync.ts targetKnownEmpty). `created` is "CreateBucket returned 200"
 * (buckets.ts createBucketIfMissing). In us-east-1, S3 (and moto) answer 200 to CreateBucket for
 * a bucket the caller already owns, so when the bucket appears between the HeadBucket and the
 * CreateBucket (a concurrent migrate/provision, or another environment's provision of the same
 * name in the same account), `created` is true for a bucket that is neither new nor empty.
 *
 * Migrate's data stays right (copies are retried over a 412 and the check pass lists the target;
 * the stale target-only key is removed in pass 2), but `assertClaimable` is skipped for a
 * "created" bucket, so a bucket bound to ANOTHER index is silently re-bound to this one and the
 * engagement migrated into it. DESIGN: "a bucket of ours bound to another index is refused (exit
 * 5) before anything is written to it". Expected to FAIL against the code under review.
 */
import {CreateBucketCommand, GetBucketTaggingCommand, PutBucketTaggingCommand, PutBucketVersioningCommand, PutObjectCommand, type S3Client} from '@aws-sdk/client-s3'
import {describe, expect, inject, it} from 'vitest'

import type {AwsContext} from '../../../src/lib/aws.js'
import {resolveSettings} from '../../../src/lib/config.js'
import {EngagementIndex} from '../../../src/lib/engagement-index.js'
import {executeMigration, planMigration} from '../../../src/lib/migrate/index.js'
import {expectedBucketName, putIndex, randomEngagementId, seedRecord} from '../../helpers/commands.js'
import {createSharedBucket, motoAccountId, testS3} from '../../helpers/s3.js'

function motoContext(sharedBucket: string, s3: S3Client = testS3()): AwsContext {
  return {s3, settings: resolveSettings({'shared-bucket': sharedBucket}, {AWS_ENDPOINT_URL: inject('motoEndpoint')}), accountId: async () => motoAccountId, callerArn: async () => `arn:aws:iam::${motoAccountId}:user/review`}
}
const key = (id: string, name: string) => `auditforge/engagements/${id}/${name}`

describe('review: a bucket that appears between HeadBucket and CreateBucket (us-east-1)', () => {
  it('bound to another index: refused, not re-bound and migrated into', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'review-created')
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    await s3.send(new PutObjectCommand({Bucket: shared, Key: key(id, 'findings.json'), Body: 'fresh bytes'}))
    const target = expectedBucketName(id)
    const racing = testS3()
    let fired = false
    racing.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'CreateBucketCommand' && !fired) {
          fired = true
          await s3.send(new CreateBucketCommand({Bucket: target}))
          await s3.send(new PutBucketVersioningCommand({Bucket: target, VersioningConfiguration: {Status: 'Enabled'}}))
          await s3.send(new PutBucketTaggingCommand({Bucket: target, Tagging: {TagSet: [{Key: 'auditforge:managed-by', Value: 'auditforge'}, {Key: 'auditforge:index', Value: 'another-environments-index'}]}}))
          await s3.send(new PutObjectCommand({Bucket: target, Key: key(id, 'stale-only.txt'), Body: 'stale'}))
        }
        return next(args)
      },
      {step: 'initialize', name: 'review-race-create'},
    )
    const context = motoContext(shared, racing)
    const [outcome] = await executeMigration(context, await planMigration(context, shared, {engagementId: id}))
    expect(fired).toBe(true)
    const binding = (await s3.send(new GetBucketTaggingCommand({Bucket: target}))).TagSet?.find((tag) => tag.Key === 'auditforge:index')?.Value
    const record = await new EngagementIndex(s3, shared).get(id)
    // Actual: {status: 'migrated', binding: <this shared bucket>, source_bucket: target}.
    expect({status: outcome.status, binding, source_bucket: record.source_bucket}).toEqual({status: 'failed', binding: 'another-environments-index', source_bucket: ''})
  })
})
