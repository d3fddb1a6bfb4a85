/**
 * `bucket decommission` checks before it deletes, and remembers what it deleted: the preflight
 * (shown by --dry-run, refusing Object Lock, legal holds and retention on moto, state set with
 * the aws CLI), and the tombstone that keeps a decommissioned name from being provisioned
 * again without --reuse-name, reported by doctor when a record still points at it.
 */
import {GetObjectCommand, PutBucketTaggingCommand} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {
  awsS3api,
  bucketExists,
  expectedBucketName,
  listAllVersions,
  makeManagedBucket,
  putIndex,
  putRaw,
  randomEngagementId,
  seedRecord,
} from '../helpers/commands.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

/** Every preflight check, in the order a decommission makes them. */
const allChecks = [
  'owner',
  'records',
  'managed-by',
  'engagement-tag',
  'index-binding',
  'object-lock',
  'legal-hold',
  'retention',
  'mfa-delete',
]

const tombstonesKey = 'auditforge/decommissioned-buckets.json'
const caller = 'arn:aws:sts::123456789012:user/moto'

async function tombstonesIn(
  shared: string,
): Promise<{bucket: string; engagement_id: string; decommissioned_at: string; decommissioned_by: string}[]> {
  try {
    const reply = await testS3().send(new GetObjectCommand({Bucket: shared, Key: tombstonesKey}))
    return JSON.parse(await reply.Body!.transformToString()).tombstones
  } catch (error) {
    if ((error as {name?: string}).name === 'NoSuchKey') return []
    throw error
  }
}

describe('bucket decommission: preflight', () => {
  it('--dry-run shows every check and what would go, and changes nothing (no --yes needed)', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const id = randomEngagementId()
    const bucket = await makeManagedBucket(s3, id, shared)
    await putRaw(s3, bucket, `auditforge/engagements/${id}/findings.json`, '{"v": 1}')
    await putRaw(s3, bucket, `auditforge/engagements/${id}/findings.json`, '{"v": 2}')

    const table = await runCli(['bucket', 'decommission', bucket, '--dry-run', '--shared-bucket', shared])
    expect(table.code, table.stderr).toBe(0)
    for (const check of allChecks) {
      expect(table.stdout).toMatch(new RegExp(`${check}\\s+ok\\s`))
    }
    expect(table.stderr).toContain('Dry run: would record')
    expect(table.stderr).toContain('delete 2 object versions')

    const json = await runJson<{dry_run: boolean; object_versions: number; preflight: {check: string; ok: boolean}[]}>([
      'bucket',
      'decommission',
      bucket,
      '--dry-run',
      '--shared-bucket',
      shared,
    ])
    expect(json.code, json.stderr).toBe(0)
    expect(json.json).toMatchObject({bucket, dry_run: true, object_versions: 2})
    expect(json.json.preflight.every((check) => check.ok)).toBe(true)

    expect(await listAllVersions(s3, bucket)).toHaveLength(2)
    expect(await tombstonesIn(shared)).toEqual([])
  })

  it('refuses (exit 5) a bucket with Object Lock, naming the versions under legal hold and retention, before deleting anything', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const id = randomEngagementId()
    const bucket = expectedBucketName(id)
    expect((await awsS3api(['create-bucket', '--bucket', bucket, '--object-lock-enabled-for-bucket'])).code).toBe(0)
    await s3.send(
      new PutBucketTaggingCommand({
        Bucket: bucket,
        Tagging: {
          TagSet: [
            {Key: 'auditforge:engagement-id', Value: id},
            {Key: 'auditforge:managed-by', Value: 'auditforge'},
            {Key: 'auditforge:index', Value: shared},
          ],
        },
      }),
    )
    const held = `auditforge/engagements/${id}/findings.json`
    const retained = `auditforge/engagements/${id}/audit_log/shard-00000.jsonl`
    await putRaw(s3, bucket, held, '{}')
    await putRaw(s3, bucket, retained, '{}\n')
    await putRaw(s3, bucket, `auditforge/deliverables/${id}.md`, '# report')
    expect(
      (await awsS3api(['put-object-legal-hold', '--bucket', bucket, '--key', held, '--legal-hold', 'Status=ON'])).code,
    ).toBe(0)
    const retention = JSON.stringify({Mode: 'GOVERNANCE', RetainUntilDate: '2099-01-01T00:00:00Z'})
    expect(
      (await awsS3api(['put-object-retention', '--bucket', bucket, '--key', retained, '--retention', retention])).code,
    ).toBe(0)

    const refused = await runCli(['bucket', 'decommission', bucket, '--yes', '--shared-bucket', shared])
    expect(refused.code).toBe(5)
    expect(refused.stderr).toContain('object-lock: Object Lock is enabled')
    expect(refused.stderr).toContain(`legal-hold: 1 version under legal hold: ${held}`)
    expect(refused.stderr).toContain(`retention: 1 version under unexpired retention: ${retained}`)
    expect(refused.stderr).toContain('until 2099-01-01T00:00:00.000Z')
    expect(refused.stdout).toBe('')

    // The dry run says the same, and neither touched a thing.
    const dryRun = await runCli(['bucket', 'decommission', bucket, '--dry-run', '--shared-bucket', shared])
    expect(dryRun.code).toBe(5)
    expect(dryRun.stdout).toMatch(/object-lock\s+BLOCKS/)
    expect(dryRun.stdout).toMatch(/legal-hold\s+BLOCKS/)
    expect(dryRun.stdout).toMatch(/mfa-delete\s+ok/)

    // Under --json the blocked preflight is the document, beside the error, dry run or not.
    type Blocked = {
      status: string
      error: {code: string; exit: number; message: string} | null
      preflight: {check: string; ok: boolean; detail: string}[]
    }
    const [dryJson, realJson] = await Promise.all([
      runJson<Blocked & {dry_run: true; object_versions: number | null}>([
        'bucket',
        'decommission',
        bucket,
        '--dry-run',
        '--shared-bucket',
        shared,
      ]),
      runJson<Blocked & {dry_run: false; deleted: number}>([
        'bucket',
        'decommission',
        bucket,
        '--yes',
        '--shared-bucket',
        shared,
      ]),
    ])
    for (const [result, shape] of [
      [dryJson, {dry_run: true, object_versions: null}],
      [realJson, {dry_run: false, deleted: 0, uploads_aborted: 0, trail_selector: null}],
    ] as const) {
      expect(result.code).toBe(5)
      expect(result.json).toMatchObject({bucket, status: 'refused', error: {code: 'refused', exit: 5}, ...shape})
      expect(result.json.error!.message).toContain(`legal-hold: 1 version under legal hold: ${held}`)
      expect(result.json.preflight.map((check) => check.check)).toEqual(allChecks)
      expect(result.json.preflight.filter((check) => !check.ok).map((check) => check.check)).toEqual([
        'object-lock',
        'legal-hold',
        'retention',
      ])
    }
    expect(await listAllVersions(s3, bucket)).toHaveLength(3)
    expect(await tombstonesIn(shared)).toEqual([])
  })
})

describe('tombstones', () => {
  it('decommission records the name; provisioning it again is refused (exit 5) until --reuse-name, which removes the tombstone', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    const env = {AUDITFORGE_BUCKET: shared}
    expect((await runCli(['bucket', 'provision', id], {env})).code).toBe(0)
    const bucket = expectedBucketName(id)
    await putRaw(s3, bucket, `auditforge/engagements/${id}/findings.json`, '{}')

    const decommissioned = await runCli(['bucket', 'decommission', bucket, '--yes'], {env})
    expect(decommissioned.code, decommissioned.stderr).toBe(0)
    expect(await bucketExists(s3, bucket)).toBe(false)
    const [tombstone] = await tombstonesIn(shared)
    expect(tombstone).toEqual({
      bucket,
      engagement_id: id,
      decommissioned_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      decommissioned_by: caller,
    })
    expect(Date.now() - Date.parse(tombstone.decommissioned_at)).toBeLessThan(5 * 60_000)

    const refused = await runCli(['bucket', 'provision', id], {env})
    expect(refused.code).toBe(5)
    expect(refused.stderr).toContain(
      `${bucket} was decommissioned (${tombstone.decommissioned_at}, by ${caller}, engagement ${id})`,
    )
    expect(refused.stderr).toContain('--reuse-name')
    expect(await bucketExists(s3, bucket)).toBe(false)

    const reused = await runCli(['bucket', 'provision', id, '--reuse-name'], {env})
    expect(reused.code, reused.stderr).toBe(0)
    expect(await bucketExists(s3, bucket)).toBe(true)
    expect(await tombstonesIn(shared)).toEqual([])
  })

  it('engagement delete tombstones the bucket it decommissions, and doctor fails a record that points at a tombstoned bucket', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const env = {AUDITFORGE_BUCKET: shared}
    const created = await runJson<{engagement_id: string; source_bucket: string}>(
      ['engagement', 'create', '--name', 'Tombstoned', '--isolated'],
      {env},
    )
    expect(created.code, created.stderr).toBe(0)
    const {engagement_id: id, source_bucket: bucket} = created.json
    const deleted = await runJson<{bucket: string}>(['engagement', 'delete', id, '--yes'], {env})
    expect(deleted.code, deleted.stderr).toBe(0)
    expect(deleted.json.bucket).toBe('decommissioned')
    expect(await tombstonesIn(shared)).toEqual([
      expect.objectContaining({bucket, engagement_id: id, decommissioned_by: caller}),
    ])

    // A record restored from a backup still points at it.
    await putIndex(s3, shared, {engagements: [seedRecord(id, {source_bucket: bucket})]})
    const doctor = await runJson<{checks: {check: string; status: string; detail: string}[]}>(['doctor'], {env})
    expect(doctor.code).toBe(4)
    expect(doctor.json.checks.find((check) => check.check === 'engagement buckets')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining(`records pointing at a decommissioned (tombstoned) bucket: ${id} → ${bucket}`),
    })
  })
})
