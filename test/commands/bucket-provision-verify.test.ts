import {
  DeleteBucketEncryptionCommand,
  DeleteBucketTaggingCommand,
  DeletePublicAccessBlockCommand,
  GetBucketEncryptionCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  PutBucketVersioningCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {
  awsS3api,
  bucketExists,
  expectedBucketName,
  putIndex,
  randomEngagementId,
  seedRecord,
} from '../helpers/commands.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

interface ControlCheck {
  control: string
  ok: boolean | null
  expected: string
  actual: string
}
interface VerifyOutput {
  ok: boolean
  buckets: {bucket: string; ok: boolean; controls: ControlCheck[]}[]
}

/** Every control, read back with the SDK. */
async function readControls(s3: S3Client, bucket: string) {
  const [versioning, encryption, publicAccess, ownership, tagging] = await Promise.all([
    s3.send(new GetBucketVersioningCommand({Bucket: bucket})),
    s3.send(new GetBucketEncryptionCommand({Bucket: bucket})),
    s3.send(new GetPublicAccessBlockCommand({Bucket: bucket})),
    s3.send(new GetBucketOwnershipControlsCommand({Bucket: bucket})),
    s3.send(new GetBucketTaggingCommand({Bucket: bucket})),
  ])
  return {
    versioning: versioning.Status,
    encryption: encryption.ServerSideEncryptionConfiguration?.Rules?.map(
      (rule) => rule.ApplyServerSideEncryptionByDefault?.SSEAlgorithm,
    ),
    publicAccess: publicAccess.PublicAccessBlockConfiguration,
    ownership: ownership.OwnershipControls?.Rules?.map((rule) => rule.ObjectOwnership),
    tags: Object.fromEntries((tagging.TagSet ?? []).map((tag) => [tag.Key!, tag.Value!])),
  }
}

function expectAllControls(controls: Awaited<ReturnType<typeof readControls>>, engagementId: string) {
  expect(controls.versioning).toBe('Enabled')
  expect(controls.encryption).toEqual(['AES256'])
  expect(controls.publicAccess).toEqual({
    BlockPublicAcls: true,
    IgnorePublicAcls: true,
    BlockPublicPolicy: true,
    RestrictPublicBuckets: true,
  })
  expect(controls.ownership).toEqual(['BucketOwnerEnforced'])
  expect(controls.tags['auditforge:engagement-id']).toBe(engagementId)
  expect(controls.tags['auditforge:managed-by']).toBe('auditforge')
}

async function breakControls(s3: S3Client, bucket: string): Promise<void> {
  await s3.send(new PutBucketVersioningCommand({Bucket: bucket, VersioningConfiguration: {Status: 'Suspended'}}))
  await s3.send(new DeleteBucketEncryptionCommand({Bucket: bucket}))
  await s3.send(new DeletePublicAccessBlockCommand({Bucket: bucket}))
  await s3.send(new DeleteBucketTaggingCommand({Bucket: bucket}))
}

/** A shared bucket whose index knows the engagements: provisioning binds buckets to it. */
async function indexFor(s3: S3Client, ...ids: string[]): Promise<{shared: string; env: {AUDITFORGE_BUCKET: string}}> {
  const shared = await createSharedBucket(s3)
  await putIndex(s3, shared, {engagements: ids.map((id) => seedRecord(id))})
  return {shared, env: {AUDITFORGE_BUCKET: shared}}
}

function failing(output: VerifyOutput, bucket: string): string[] {
  const check = output.buckets.find((candidate) => candidate.bucket === bucket)
  expect(check, `no result for ${bucket}`).toBeDefined()
  return check!.controls
    .filter((control) => control.ok === false)
    .map((control) => control.control)
    .sort()
}

describe('bucket provision', () => {
  it('creates the bucket with every control, prints only its name, and is idempotent', async () => {
    const s3 = testS3()
    const id = randomEngagementId()
    const bucket = expectedBucketName(id)
    const {shared, env} = await indexFor(s3, id)

    const first = await runCli(['bucket', 'provision', id, '--tag', 'cost-center=audit', '--tag', 'owner=risk team'], {
      env,
    })
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toBe(`${bucket}\n`)

    const controls = await readControls(s3, bucket)
    expectAllControls(controls, id)
    expect(controls.tags).toEqual({
      'auditforge:engagement-id': id,
      'auditforge:managed-by': 'auditforge',
      'auditforge:index': shared,
      'cost-center': 'audit',
      owner: 'risk team',
    })

    // Again, without --tag: nothing is created, the controls and the operator's tags stay.
    const again = await runJson<{engagement_id: string; bucket: string; created: boolean}>(
      ['bucket', 'provision', id],
      {env},
    )
    expect(again.code, again.stderr).toBe(0)
    // moto speaks plain http: the TLS-only policy is the one control that does not apply there.
    expect(again.json).toEqual({
      engagement_id: id,
      bucket,
      created: false,
      skipped: [{control: 'tls-only', reason: expect.stringContaining('plain-http')}],
    })
    const after = await readControls(s3, bucket)
    expectAllControls(after, id)
    expect(after.tags['cost-center']).toBe('audit')
  })

  it('agrees with the aws CLI (v1) on the controls', async () => {
    const id = randomEngagementId()
    const bucket = expectedBucketName(id)
    const {shared, env} = await indexFor(testS3(), id)
    const provisioned = await runJson<{bucket: string; created: boolean}>(
      ['bucket', 'provision', id, '--tag', 'team=audit'],
      {env},
    )
    expect(provisioned.code, provisioned.stderr).toBe(0)
    expect(provisioned.json.created).toBe(true)

    const [versioning, encryption, publicAccess, tagging] = await Promise.all([
      awsS3api(['get-bucket-versioning', '--bucket', bucket]),
      awsS3api(['get-bucket-encryption', '--bucket', bucket]),
      awsS3api(['get-public-access-block', '--bucket', bucket]),
      awsS3api(['get-bucket-tagging', '--bucket', bucket]),
    ])
    expect(versioning.json.Status).toBe('Enabled')
    expect(
      encryption.json.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm,
    ).toBe('AES256')
    expect(publicAccess.json.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    })
    const tags = Object.fromEntries(
      tagging.json.TagSet.map((tag: {Key: string; Value: string}) => [tag.Key, tag.Value]),
    )
    expect(tags).toEqual({
      'auditforge:engagement-id': id,
      'auditforge:managed-by': 'auditforge',
      'auditforge:index': shared,
      team: 'audit',
    })
  })

  it('rejects a --tag without key=value with exit 2 and creates nothing', async () => {
    const s3 = testS3()
    const id = randomEngagementId()
    for (const tag of ['novalue', 'auditforge:managed-by=someone']) {
      const result = await runCli(['bucket', 'provision', id, '--tag', tag])
      expect(result.code, `--tag ${tag}`).toBe(2)
      expect(result.stdout).toBe('')
      expect(result.stderr).toMatch(/tag/i)
    }
    expect(await bucketExists(s3, expectedBucketName(id))).toBe(false)
  })
})

describe('bucket verify', () => {
  it('passes a fresh bucket, reports drift with exit 4, and --fix repairs it', async () => {
    const s3 = testS3()
    const id = randomEngagementId()
    const bucket = expectedBucketName(id)
    const {env} = await indexFor(s3, id)
    expect((await runCli(['bucket', 'provision', id], {env})).code).toBe(0)

    const fresh = await runJson<VerifyOutput>(['bucket', 'verify', bucket], {env})
    expect(fresh.code, fresh.stderr).toBe(0)
    expect(fresh.json.ok).toBe(true)
    expect(failing(fresh.json, bucket)).toEqual([])

    await breakControls(s3, bucket)

    const drifted = await runJson<VerifyOutput>(['bucket', 'verify', bucket], {env})
    expect(drifted.code).toBe(4)
    expect(drifted.json.ok).toBe(false)
    // Deleting the tag set also removes the binding.
    expect(failing(drifted.json, bucket)).toEqual([
      'encryption',
      'index-binding',
      'public-access-block',
      'tags',
      'versioning',
    ])

    const driftedTable = await runCli(['bucket', 'verify', bucket], {env})
    expect(driftedTable.code).toBe(4)
    expect(driftedTable.stdout).toMatch(/versioning\s.*FAIL/)
    expect(driftedTable.stdout).toMatch(/object-ownership\s.*pass/)
    expect(driftedTable.stdout).toContain(bucket)
    expect(driftedTable.stderr).toMatch(/drift/i)

    // Deleting the tags unbound it, and no record points at the bucket (the engagement is still
    // in the shared bucket): nothing proves it is this index's, so --fix writes nothing (exit 5).
    const unproven = await runJson<VerifyOutput & {buckets: {fix_refused?: string}[]}>(
      ['bucket', 'verify', bucket, '--fix'],
      {env},
    )
    expect(unproven.code, unproven.stderr).toBe(5)
    expect(unproven.json.buckets[0].fix_refused).toContain('not bound to any engagement index')
    expect((await awsS3api(['get-bucket-versioning', '--bucket', bucket])).json.Status).toBe('Suspended')

    // The operator claims it as the refusal says; then drift on a bound bucket is repaired by --fix.
    expect((await runCli(['bucket', 'provision', id, '--force'], {env})).code).toBe(0)
    expect((await readControls(s3, bucket)).tags['auditforge:index']).toBe(env.AUDITFORGE_BUCKET)
    await s3.send(new PutBucketVersioningCommand({Bucket: bucket, VersioningConfiguration: {Status: 'Suspended'}}))
    await s3.send(new DeleteBucketEncryptionCommand({Bucket: bucket}))
    await s3.send(new DeletePublicAccessBlockCommand({Bucket: bucket}))
    const fixed = await runJson<VerifyOutput>(['bucket', 'verify', bucket, '--fix'], {env})
    expect(fixed.code, fixed.stderr).toBe(0)
    expect(failing(fixed.json, bucket)).toEqual([])
    expectAllControls(await readControls(s3, bucket), id)
  })

  it('--all checks every bucket the index points at', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const [good, bad] = [randomEngagementId(), randomEngagementId()]
    const [goodBucket, badBucket] = [expectedBucketName(good), expectedBucketName(bad)]
    await putIndex(s3, shared, {
      engagements: [
        seedRecord(good, {source_bucket: goodBucket}),
        seedRecord(bad, {source_bucket: badBucket}),
        seedRecord('eng-stillshared'),
      ],
    })
    const env = {AUDITFORGE_BUCKET: shared}
    const provisioned = await Promise.all([
      runCli(['bucket', 'provision', good], {env}),
      runCli(['bucket', 'provision', bad], {env}),
    ])
    expect(provisioned.map((result) => result.code)).toEqual([0, 0])
    await s3.send(new PutBucketVersioningCommand({Bucket: badBucket, VersioningConfiguration: {Status: 'Suspended'}}))

    const all = await runJson<VerifyOutput>(['bucket', 'verify', '--all', '--shared-bucket', shared])
    expect(all.code).toBe(4)
    expect(all.json.buckets.map((check) => check.bucket).sort()).toEqual([goodBucket, badBucket].sort())
    expect(failing(all.json, goodBucket)).toEqual([])
    expect(failing(all.json, badBucket)).toEqual(['versioning'])

    const fixed = await runJson<VerifyOutput>(['bucket', 'verify', '--all', '--fix', '--shared-bucket', shared])
    expect(fixed.code, fixed.stderr).toBe(0)
    expect(fixed.json.ok).toBe(true)
    expect((await s3.send(new GetBucketVersioningCommand({Bucket: badBucket}))).Status).toBe('Enabled')
  })

  it('a bucket that is gone is its own entry and the others are still checked: exit 3 alone, 4 beside drift (--all, and named buckets)', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const [good, drifting, gone] = [randomEngagementId(), randomEngagementId(), randomEngagementId()]
    const [goodBucket, driftingBucket, goneBucket] = [good, drifting, gone].map((id) => expectedBucketName(id))
    await putIndex(s3, shared, {
      engagements: [seedRecord(good, {source_bucket: goodBucket}), seedRecord(gone, {source_bucket: goneBucket})],
    })
    const env = {AUDITFORGE_BUCKET: shared}
    const provisioned = await Promise.all([
      runCli(['bucket', 'provision', good], {env}),
      runCli(['bucket', 'provision', drifting, '--force'], {env}),
    ])
    expect(provisioned.map((result) => result.code)).toEqual([0, 0])

    type Verified = VerifyOutput & {
      status: string
      error: {code: string; exit: number; message: string} | null
      buckets: {bucket: string; engagement_id: string | null; error: {code: string; exit: number} | null}[]
    }
    // --all: the record pointing at the missing bucket does not stop the others being checked.
    const all = await runJson<Verified>(['bucket', 'verify', '--all'], {env})
    expect(all.code, all.stderr).toBe(3)
    expect(all.json).toMatchObject({ok: false, status: 'not_found', error: {code: 'not_found', exit: 3}})
    expect(all.json.error!.message).toContain(`does not exist (${goneBucket})`)
    const entry = (result: Verified, bucket: string) => result.buckets.find((check) => check.bucket === bucket)
    expect(entry(all.json, goneBucket)).toMatchObject({
      engagement_id: gone,
      ok: false,
      controls: [],
      fix_refused: null,
      error: {code: 'not_found', exit: 3},
    })
    expect(entry(all.json, goodBucket)).toMatchObject({ok: true, error: null})
    expect(failing(all.json, goodBucket)).toEqual([])

    // Named buckets, one of them drifted: drift (4) outranks a missing bucket (3); every bucket is reported.
    await s3.send(
      new PutBucketVersioningCommand({Bucket: driftingBucket, VersioningConfiguration: {Status: 'Suspended'}}),
    )
    const named = await runJson<Verified>(['bucket', 'verify', goodBucket, goneBucket, driftingBucket], {env})
    expect(named.code).toBe(4)
    expect(named.json).toMatchObject({status: 'drift', error: {code: 'drift', exit: 4}})
    expect(named.json.error!.message).toBe(`1 of 3 buckets has drifted controls; 1 does not exist (${goneBucket})`)
    expect(named.json.buckets.map((check) => check.bucket)).toEqual([goodBucket, goneBucket, driftingBucket])
    expect(failing(named.json, driftingBucket)).toEqual(['versioning'])

    // The text view prints every table, and a line for the missing bucket.
    const text = await runCli(['bucket', 'verify', goodBucket, goneBucket, driftingBucket], {env})
    expect(text.code).toBe(4)
    expect(text.stdout).toContain(`${goodBucket}  ok\n`)
    expect(text.stdout).toContain(`${goneBucket}  NOT CHECKED: The bucket ${goneBucket} does not exist\n`)
    expect(text.stdout).toContain(`${driftingBucket}  DRIFTED\n`)
    expect(text.stdout).toMatch(/versioning\s.*FAIL/)
    expect(text.stderr).toMatch(/^Error: 1 of 3 buckets has drifted controls; 1 does not exist/)
  })

  it('without a bucket and without --all is a usage error (exit 2); a missing bucket is exit 3', async () => {
    const missing = expectedBucketName(randomEngagementId())
    const {env} = await indexFor(testS3())
    const [usage, notFound] = await Promise.all([
      runCli(['bucket', 'verify'], {env}),
      runCli(['bucket', 'verify', missing], {env}),
    ])
    expect(usage.code).toBe(2)
    expect(usage.stdout).toBe('')
    expect(usage.stderr).toMatch(/--all/)
    expect(notFound.code).toBe(3)
    expect(notFound.stderr).toContain(missing)
  })
})
