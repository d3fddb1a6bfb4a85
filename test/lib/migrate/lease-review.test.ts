/**
 * Found by an adversarial review of the per-engagement lease of `migrate --execute`, on moto: a
 * run with a plan older than another run's switch leaves the engagement alone, removals are
 * checked like copies, release is conditional, a lease not renewed for most of its time counts as
 * lost, staleness is judged by S3's clock (never a skewed host's), and mixed refusals are not exit 1.
 */
import {hostname} from 'node:os'

import {DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {EngagementIndex} from '../../../src/lib/engagement-index.js'
import {executeMigration, planMigration} from '../../../src/lib/migrate/index.js'
import {MigrationLease} from '../../../src/lib/migrate/lease.js'
import {migrationExitCode} from '../../../src/lib/migrate/report.js'
import {rollbackMigration} from '../../../src/lib/migrate/rollback.js'
import {expectedBucketName, putIndex, randomEngagementId, seedRecord} from '../../helpers/commands.js'
import {motoContext} from '../../helpers/library.js'
import {leaseKey, leaseOn} from '../../helpers/migrate.js'
import {createSharedBucket, getText, putText, testS3} from '../../helpers/s3.js'

async function exists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({Bucket: bucket, Key: key}))
    return true
  } catch {
    return false
  }
}

/** Runs `hook` once, before the first DeleteObject of exactly this bucket and key goes out. */
function beforeDelete(
  s3: S3Client,
  bucket: string,
  key: string | undefined,
  hook: () => Promise<void>,
  command = 'DeleteObjectCommand',
): void {
  let done = false
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as {Bucket?: string; Key?: string}
      if (
        !done &&
        context.commandName === command &&
        input.Bucket === bucket &&
        (key === undefined || input.Key === key)
      ) {
        done = true
        await hook()
      }
      return next(args)
    },
    {step: 'initialize', name: `review11-before-delete-${Math.random()}`},
  )
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** An engagement in the shared bucket with two objects. */
async function seedEngagement(
  s3: S3Client,
  stem: string,
): Promise<{shared: string; id: string; findings: string; note: string}> {
  const shared = await createSharedBucket(s3, stem)
  const id = randomEngagementId()
  await putIndex(s3, shared, {engagements: [seedRecord(id)]})
  const findings = `auditforge/engagements/${id}/findings.json`
  const note = `auditforge/engagements/${id}/source/note.txt`
  await putText(s3, shared, findings, '{"v":1}', 'application/json')
  await putText(s3, shared, note, 'note')
  return {shared, id, findings, note}
}

describe('review 11: the migration lease', () => {
  it('a run planned before another run migrated the engagement leaves it alone once it holds the lease: what the application wrote since the switch is kept', async () => {
    const s3 = testS3()
    const {shared, id, findings} = await seedEngagement(s3, 'rev11-stale')
    const context = motoContext(shared, s3)
    // Two operators plan at about the same time (the plan is made before the y/N question).
    const planA = await planMigration(context, shared, {engagementId: id})
    const planB = await planMigration(context, shared, {engagementId: id})
    expect(planB.engagements.map((engagement) => engagement.engagementId)).toEqual([id])

    const [first] = await executeMigration(context, planA)
    expect(first).toMatchObject({status: 'migrated'})
    const bucket = expectedBucketName(id)
    expect((await new EngagementIndex(s3, shared).get(id)).source_bucket).toBe(bucket)

    // The application now works in the engagement's bucket.
    const created = `auditforge/engagements/${id}/source/written-after-switch.txt`
    await putText(s3, bucket, created, 'new since the switch')
    await putText(s3, bucket, findings, '{"v":2}', 'application/json')

    // The second run gets the lease (the first released it) with its stale plan.
    const [second] = await executeMigration(context, planB)
    expect.soft(second.status).not.toBe('migrated')
    expect.soft(await exists(s3, bucket, created)).toBe(true)
    expect.soft(await getText(s3, bucket, findings)).toBe('{"v":2}')
  })

  it('a run that knows it lost its lease removes nothing from the engagement bucket (removals are checked like copies)', async () => {
    const s3 = testS3()
    const {shared, id, note} = await seedEngagement(s3, 'rev11-remove')
    const context = motoContext(shared, s3)
    const [first] = await executeMigration(context, await planMigration(context, shared, {engagementId: id}))
    expect(first).toMatchObject({status: 'migrated'})
    // Rolled back to be migrated again; meanwhile a key left the source.
    await rollbackMigration(context, shared, id)
    await s3.send(new DeleteObjectCommand({Bucket: shared, Key: note}))
    const bucket = expectedBucketName(id)
    expect(await exists(s3, bucket, note)).toBe(true)

    const plan = await planMigration(context, shared, {engagementId: id})
    // While this run lists the target (before it decides on the removal), another run takes the
    // lease over and this run's renewal sees it.
    beforeDelete(
      s3,
      bucket,
      undefined,
      async () => {
        const at = new Date().toISOString()
        await s3.send(
          new PutObjectCommand({
            Bucket: shared,
            Key: leaseKey(id),
            Body: JSON.stringify({
              run_id: 'other-run',
              operator: 'someone',
              host: 'another-host',
              pid: 1,
              acquired_at: at,
              renewed_at: at,
            }),
          }),
        )
        await sleep(400)
      },
      'ListObjectsV2Command',
    )
    const [second] = await executeMigration(context, plan, {lease: {renewEveryMs: 20}})
    expect(second).toMatchObject({status: 'failed', error_code: 'migration_lease_lost'})
    expect(await exists(s3, bucket, note)).toBe(true)
  })

  it('release never deletes a lease another run took over between its read and its delete', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'rev11-release')
    const id = randomEngagementId()
    const mine = await MigrationLease.acquire(s3, shared, id, {runId: 'mine', operator: 'x'})
    beforeDelete(s3, shared, leaseKey(id), async () => {
      const at = new Date().toISOString()
      await s3.send(
        new PutObjectCommand({
          Bucket: shared,
          Key: leaseKey(id),
          Body: JSON.stringify({
            run_id: 'taker',
            operator: 'y',
            host: 'another-host',
            pid: 1,
            acquired_at: at,
            renewed_at: at,
          }),
        }),
      )
    })
    await mine.release()
    expect(await leaseOn(s3, shared, id)).toMatchObject({run_id: 'taker'})
  })

  it('assertHeld fails once the lease has gone unrenewed for staleAfterMs (another run may hold it by then), without waiting for a renewal to report it', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'rev11-assert')
    const id = randomEngagementId()
    let clock = Date.now()
    const lease = await MigrationLease.acquire(
      s3,
      shared,
      id,
      {runId: 'slow', operator: 'x'},
      {now: () => new Date(clock), renewEveryMs: 3_600_000},
    )
    try {
      // No renewal got through for longer than the lease stays valid (process paused, renewals hanging).
      clock += 6 * 60_000
      expect(() => lease.assertHeld()).toThrow(expect.objectContaining({code: 'migration_lease_lost'}))
    } finally {
      await lease.release()
    }
  })

  it("a lease written seconds ago is not taken over by a host whose clock runs 6 minutes ahead (renewed_at is the writer's clock)", async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'rev11-skew')
    const id = randomEngagementId()
    const at = new Date().toISOString()
    // A live run on another host has just written (renewed) its lease.
    await s3.send(
      new PutObjectCommand({
        Bucket: shared,
        Key: leaseKey(id),
        Body: JSON.stringify({
          run_id: 'live',
          operator: 'x',
          host: `not-${hostname()}`,
          pid: 1,
          acquired_at: at,
          renewed_at: at,
        }),
      }),
    )
    const ahead = () => new Date(Date.now() + 6 * 60_000)
    const outcome = await MigrationLease.acquire(s3, shared, id, {runId: 'skewed', operator: 'y'}, {now: ahead}).then(
      async (taken) => {
        await taken.release()
        return 'taken over'
      },
      (error: {code?: string}) => error.code,
    )
    expect(outcome).toBe('migration_in_progress')
    expect(await leaseOn(s3, shared, id)).toMatchObject({run_id: 'live'})
  })
})

describe('review 11: exit codes', () => {
  it('engagements all refused for safety or held by another run is not exit 1 ("failed: AWS error, network")', () => {
    const code = migrationExitCode([
      {status: 'failed', error_code: 'batch_job_active'},
      {status: 'failed', error_code: 'migration_in_progress'},
    ])
    expect([5, 6]).toContain(code)
  })
})
