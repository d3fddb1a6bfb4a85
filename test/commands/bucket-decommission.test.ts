import {CreateBucketCommand} from '@aws-sdk/client-s3'
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
import {createSharedBucket, motoAccountId, testS3, uniqueName} from '../helpers/s3.js'

describe('bucket decommission', () => {
  it('refuses the shared bucket, even one named like a per-engagement bucket (exit 5)', async () => {
    const s3 = testS3()
    // A shared bucket whose name has the per-engagement form, so only the shared-bucket rule can refuse it.
    const shared = expectedBucketName(randomEngagementId())
    await s3.send(new CreateBucketCommand({Bucket: shared}))
    await putRaw(s3, shared, 'auditforge/firms.json', '{}')

    const result = await runCli(['bucket', 'decommission', shared, '--yes', '--shared-bucket', shared])
    expect(result.code).toBe(5)
    expect(result.stderr).toMatch(/shared/i)
    expect(await bucketExists(s3, shared)).toBe(true)
    expect((await listAllVersions(s3, shared)).map((version) => version.key)).toEqual(['auditforge/firms.json'])
  })

  it('refuses a name not of the per-engagement form (exit 5)', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const other = uniqueName('my-bucket')
    await s3.send(new CreateBucketCommand({Bucket: other}))
    await putRaw(s3, other, 'keep.txt', 'keep')

    const [plain, existing] = await Promise.all([
      runCli(['bucket', 'decommission', 'my-bucket', '--yes', '--shared-bucket', shared]),
      runCli(['bucket', 'decommission', other, '--yes', '--shared-bucket', shared]),
    ])
    expect(plain.code).toBe(5)
    expect(plain.stderr).toMatch(/per-engagement/)
    expect(existing.code).toBe(5)
    expect(await bucketExists(s3, other)).toBe(true)
    expect((await listAllVersions(s3, other)).map((version) => version.key)).toEqual(['keep.txt'])
  })

  it('refuses a bucket an engagement record points at (exit 5)', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const id = randomEngagementId()
    const bucket = await makeManagedBucket(s3, id)
    await putRaw(s3, bucket, `auditforge/engagements/${id}/findings.json`, '{}')
    await putIndex(s3, shared, {engagements: [seedRecord(id, {source_bucket: bucket})]})

    const result = await runCli(['bucket', 'decommission', bucket, '--yes', '--shared-bucket', shared])
    expect(result.code).toBe(5)
    expect(result.stderr).toContain(id)
    expect(await bucketExists(s3, bucket)).toBe(true)
    expect(await listAllVersions(s3, bucket)).toHaveLength(1)
  })

  it('refuses without --yes when there is no TTY (exit 5)', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const bucket = await makeManagedBucket(s3, randomEngagementId())
    await putRaw(s3, bucket, 'auditforge/engagements/x.json', '{}')

    const result = await runCli(['bucket', 'decommission', bucket, '--shared-bucket', shared], {input: 'y\n'})
    expect(result.code).toBe(5)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/--yes/)
    expect(await bucketExists(s3, bucket)).toBe(true)
    expect(await listAllVersions(s3, bucket)).toHaveLength(1)
  })

  it('an invalid bucket name is exit 2; a missing per-engagement bucket is exit 3', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const missing = `metis-af-${randomEngagementId().slice(4)}-${motoAccountId}`
    const [invalid, notFound] = await Promise.all([
      runCli(['bucket', 'decommission', 'Bad_Name', '--yes', '--shared-bucket', shared]),
      runCli(['bucket', 'decommission', missing, '--yes', '--shared-bucket', shared]),
    ])
    expect(invalid.code).toBe(2)
    expect(invalid.stdout).toBe('')
    expect(invalid.stderr).toMatch(/Bad_Name/)
    expect(notFound.code).toBe(3)
    expect(notFound.stderr).toContain(missing)
  })

  it('refuses a bucket bound to another index in the same account (another environment’s live bucket), exit 5, nothing deleted', async () => {
    const s3 = testS3()
    const [production, staging] = await Promise.all([createSharedBucket(s3, 'prod'), createSharedBucket(s3, 'staging')])
    const id = randomEngagementId()
    await putIndex(s3, production, {engagements: [seedRecord(id)]})
    await putIndex(s3, staging, {engagements: []})
    const provisioned = await runCli(['bucket', 'provision', id, '--shared-bucket', production])
    expect(provisioned.code, provisioned.stderr).toBe(0)
    const bucket = provisioned.stdout.trim()
    await putRaw(s3, bucket, `auditforge/engagements/${id}/findings.json`, '{"live": true}')
    // Production's record points at it now; staging's index knows nothing of it.
    await putIndex(s3, production, {engagements: [seedRecord(id, {source_bucket: bucket})]})

    const result = await runCli(['bucket', 'decommission', bucket, '--yes', '--shared-bucket', staging])
    expect(result.code, result.stderr).toBe(5)
    expect(result.stderr).toContain(`bound to the engagement index in ${production}`)
    expect(result.stderr.trim().split('\n')[0]).toMatch(/^Error: /)
    expect(await bucketExists(s3, bucket)).toBe(true)
    expect((await listAllVersions(s3, bucket)).map((version) => version.key)).toEqual([
      `auditforge/engagements/${id}/findings.json`,
    ])
    // The aws CLI agrees the binding is still production's.
    const tags = await awsS3api(['get-bucket-tagging', '--bucket', bucket])
    expect(tags.json.TagSet).toContainEqual({Key: 'auditforge:index', Value: production})
  })

  it('refuses an unbound bucket (provisioned before binding) until provision --force binds it to this index', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const id = randomEngagementId()
    const bucket = await makeManagedBucket(s3, id)
    await putRaw(s3, bucket, `auditforge/engagements/${id}/findings.json`, '{}')

    const refused = await runCli(['bucket', 'decommission', bucket, '--yes', '--shared-bucket', shared])
    expect(refused.code).toBe(5)
    expect(refused.stderr).toContain('not bound to any engagement index')
    expect(refused.stderr).toContain(`bucket provision ${id} --shared-bucket ${shared} --force`)
    // The dry run shows the checks made up to the one that refuses it, then the error; --json the same as a document.
    const [dryText, dryJson] = await Promise.all([
      runCli(['bucket', 'decommission', bucket, '--dry-run', '--shared-bucket', shared]),
      runJson<{
        status: string
        error: {code: string; exit: number} | null
        object_versions: number | null
        preflight: {check: string; ok: boolean; detail: string}[]
      }>(['bucket', 'decommission', bucket, '--dry-run', '--shared-bucket', shared]),
    ])
    expect(dryText.code).toBe(5)
    expect(dryText.stdout).toMatch(/owner\s+ok[\s\S]*engagement-tag\s+ok[\s\S]*index-binding\s+BLOCKS/)
    expect(dryText.stdout).not.toContain('object-lock')
    expect(dryText.stderr).toMatch(/^Error: .*not bound to any engagement index/)
    expect(dryJson.code).toBe(5)
    expect(dryJson.json).toMatchObject({
      bucket,
      dry_run: true,
      object_versions: null,
      status: 'refused',
      error: {code: 'refused', exit: 5},
    })
    expect(dryJson.json.preflight.map((check) => [check.check, check.ok])).toEqual([
      ['owner', true],
      ['records', true],
      ['managed-by', true],
      ['engagement-tag', true],
      ['index-binding', false],
    ])
    expect(dryJson.json.preflight.at(-1)!.detail).toContain('not bound to any engagement index')
    expect(await listAllVersions(s3, bucket)).toHaveLength(1)

    const withoutRecord = await runCli(['bucket', 'provision', id, '--shared-bucket', shared])
    expect(withoutRecord.code).toBe(3)
    const bound = await runCli(['bucket', 'provision', id, '--shared-bucket', shared, '--force'])
    expect(bound.code, bound.stderr).toBe(0)
    const decommissioned = await runCli(['bucket', 'decommission', bucket, '--yes', '--shared-bucket', shared])
    expect(decommissioned.code, decommissioned.stderr).toBe(0)
    expect(await bucketExists(s3, bucket)).toBe(false)
  })
})
