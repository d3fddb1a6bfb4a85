/**
 * The per-engagement lease of `migrate --execute`, on moto: one run at a time, a killed run's
 * lease taken over at once on its own host and after it goes stale elsewhere, a run that lost
 * its lease stopping before it copies or switches, and `--execute` refused while another run
 * holds it (exit 6, nothing copied, record untouched).
 */
import {hostname} from 'node:os'

import {HeadBucketCommand, PutObjectCommand} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {EngagementIndex} from '../../../src/lib/engagement-index.js'
import {executeMigration, planMigration} from '../../../src/lib/migrate/index.js'
import {MigrationLease} from '../../../src/lib/migrate/lease.js'
import {expectedBucketName, putIndex, randomEngagementId, seedRecord} from '../../helpers/commands.js'
import {motoContext} from '../../helpers/library.js'
import {leaseKey, leaseOn} from '../../helpers/migrate.js'
import {createSharedBucket, testS3} from '../../helpers/s3.js'
import {failure} from '../fixtures.js'

describe('the migration lease', () => {
  it('one run at a time: a second is refused (exit 6) naming the holder; released, the lease is gone and the next run takes it', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'lease')
    const id = randomEngagementId()
    const first = await MigrationLease.acquire(s3, shared, id, {
      runId: 'run-a',
      operator: 'arn:aws:iam::123456789012:user/alice',
    })
    expect(await leaseOn(s3, shared, id)).toMatchObject({
      run_id: 'run-a',
      operator: 'arn:aws:iam::123456789012:user/alice',
      host: hostname(),
      pid: process.pid,
    })

    const refused = await failure(MigrationLease.acquire(s3, shared, id, {runId: 'run-b', operator: 'bob'}))
    expect(refused).toMatchObject({code: 'migration_in_progress', exit: 6})
    expect(refused.message).toContain(
      `Another migrate run (run-a, by arn:aws:iam::123456789012:user/alice on ${hostname()}, pid ${process.pid}) is working on ${id}`,
    )
    expect(refused.suggestion).toContain('expires in about 5 min')

    await first.release()
    expect(await leaseOn(s3, shared, id)).toBeUndefined()
    const second = await MigrationLease.acquire(s3, shared, id, {runId: 'run-b', operator: 'bob'})
    await second.release()
  })

  it("a killed run's lease is taken over at once on the same host (its process is gone), and after it goes stale from another host", async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'lease-dead')
    const id = randomEngagementId()
    const at = new Date().toISOString()
    const put = (holder: object) =>
      s3.send(new PutObjectCommand({Bucket: shared, Key: leaseKey(id), Body: JSON.stringify(holder)}))
    await put({run_id: 'killed', operator: 'x', host: hostname(), pid: 999_999, acquired_at: at, renewed_at: at})
    const mine = await MigrationLease.acquire(
      s3,
      shared,
      id,
      {runId: 'mine', operator: 'y'},
      {isAlive: (pid) => pid !== 999_999},
    )
    expect(await leaseOn(s3, shared, id)).toMatchObject({run_id: 'mine'})
    await mine.release()

    // Another host's lease goes stale by S3's clock (Last-Modified against the Date of S3's answer), whatever the clocks of the hosts say.
    await put({run_id: 'elsewhere', operator: 'x', host: 'another-task', pid: 1, acquired_at: at, renewed_at: at})
    await expect(
      MigrationLease.acquire(s3, shared, id, {runId: 'early', operator: 'y'}, {staleAfterMs: 2000}),
    ).rejects.toMatchObject({code: 'migration_in_progress'})
    await new Promise((resolve) => setTimeout(resolve, 3100))
    const taken = await MigrationLease.acquire(s3, shared, id, {runId: 'late', operator: 'y'}, {staleAfterMs: 2000})
    expect(await leaseOn(s3, shared, id)).toMatchObject({run_id: 'late'})
    await taken.release()
  })

  it("a run whose lease another run took over stops: renew and every check throw, and its release leaves the other's lease", async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'lease-lost')
    const id = randomEngagementId()
    const stalled = await MigrationLease.acquire(
      s3,
      shared,
      id,
      {runId: 'stalled', operator: 'x'},
      {isAlive: () => true, renewEveryMs: 3_600_000},
    )
    await new Promise((resolve) => setTimeout(resolve, 2100))
    const other = await MigrationLease.acquire(
      s3,
      shared,
      id,
      {runId: 'other', operator: 'y'},
      {isAlive: () => true, staleAfterMs: 1000},
    )

    const lost = await failure(stalled.renew())
    expect(lost).toMatchObject({
      code: 'migration_lease_lost',
      exit: 6,
      message: expect.stringContaining('to run other'),
    })
    expect(() => stalled.assertHeld()).toThrow(expect.objectContaining({code: 'migration_lease_lost'}))
    await stalled.release()
    expect(await leaseOn(s3, shared, id)).toMatchObject({run_id: 'other'})
    await other.release()
  })

  it('migrate --execute is refused while another run holds the engagement: nothing provisioned or copied, record untouched', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'lease-exec')
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    await s3.send(new PutObjectCommand({Bucket: shared, Key: `auditforge/engagements/${id}/findings.json`, Body: '{}'}))
    const context = motoContext(shared, s3)
    const plan = await planMigration(context, shared, {engagementId: id})
    const holder = await MigrationLease.acquire(s3, shared, id, {runId: 'holder', operator: 'someone'})

    const [refused] = await executeMigration(context, plan)
    expect(refused).toMatchObject({status: 'failed', error_code: 'migration_in_progress'})
    await expect(s3.send(new HeadBucketCommand({Bucket: expectedBucketName(id)}))).rejects.toMatchObject({
      $metadata: {httpStatusCode: 404},
    })
    expect((await new EngagementIndex(s3, shared).get(id)).source_bucket).toBe('')

    await holder.release()
    const [migrated] = await executeMigration(context, plan)
    expect(migrated).toMatchObject({status: 'migrated'})
    expect(await leaseOn(s3, shared, id)).toBeUndefined()
  })
})
