/**
 * A bucket that appears between provisioning's HeadBucket and its CreateBucket (us-east-1, where
 * CreateBucket answers 200 for a bucket the caller already owns): it is not taken for a new one —
 * the claim checks run, so a bucket bound to another index is refused, not re-bound and migrated
 * into (and migrate's first pass does not skip listing it).
 */
import {
  CreateBucketCommand,
  GetBucketTaggingCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {EngagementIndex} from '../../../src/lib/engagement-index.js'
import {executeMigration, planMigration} from '../../../src/lib/migrate/index.js'
import {expectedBucketName, putIndex, randomEngagementId, seedRecord} from '../../helpers/commands.js'
import {motoContext} from '../../helpers/library.js'
import {createSharedBucket, testS3} from '../../helpers/s3.js'

const key = (id: string, name: string) => `auditforge/engagements/${id}/${name}`

describe('a bucket that appears between HeadBucket and CreateBucket (us-east-1)', () => {
  it('bound to another index: refused, not re-bound and migrated into', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'race-created')
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
          await s3.send(
            new PutBucketTaggingCommand({
              Bucket: target,
              Tagging: {
                TagSet: [
                  {Key: 'auditforge:managed-by', Value: 'auditforge'},
                  {Key: 'auditforge:index', Value: 'another-environments-index'},
                ],
              },
            }),
          )
          await s3.send(new PutObjectCommand({Bucket: target, Key: key(id, 'stale-only.txt'), Body: 'stale'}))
        }
        return next(args)
      },
      {step: 'initialize', name: 'review-race-create'},
    )
    const context = motoContext(shared, racing)
    const [outcome] = await executeMigration(context, await planMigration(context, shared, {engagementId: id}))
    expect(fired).toBe(true)
    const binding = (await s3.send(new GetBucketTaggingCommand({Bucket: target}))).TagSet?.find(
      (tag) => tag.Key === 'auditforge:index',
    )?.Value
    const record = await new EngagementIndex(s3, shared).get(id)
    expect({status: outcome.status, binding, source_bucket: record.source_bucket}).toEqual({
      status: 'failed',
      binding: 'another-environments-index',
      source_bucket: '',
    })
  })
})
