/**
 * The decommission preflight and the tombstones, call by call: what moto cannot show (MFA
 * delete is not kept by moto), and the exact documents written next to the index.
 */
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  NotFound,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import {mockClient} from 'aws-sdk-client-mock'
import 'aws-sdk-client-mock-vitest/extend'
import {beforeEach, describe, expect, it} from 'vitest'

import {
  assertDecommissionable,
  clearanceFailure,
  inspectDecommission,
  preflightDecommission,
  provisionEngagementBucket,
  readTombstones,
  recordTombstone,
  removeTombstone,
} from '../../src/lib/buckets.js'
import {accountId, s3Error, sharedBucket, streamBody, testContext} from './fixtures.js'

const s3Mock = mockClient(S3Client)
const engagementId = 'eng-6715f196fa40'
const bucket = `metis-af-6715f196fa40-${accountId}`
const tombstonesKey = 'auditforge/decommissioned-buckets.json'

/** A managed bucket of this index, with nothing that would block its deletion; override what does. */
function decommissionable(options: {mfaDelete?: boolean; lock?: object} = {}) {
  s3Mock.on(HeadBucketCommand).resolves({})
  s3Mock.on(GetBucketTaggingCommand).resolves({
    TagSet: [
      {Key: 'auditforge:engagement-id', Value: engagementId},
      {Key: 'auditforge:managed-by', Value: 'auditforge'},
      {Key: 'auditforge:index', Value: sharedBucket},
    ],
  })
  s3Mock
    .on(GetBucketVersioningCommand)
    .resolves({Status: 'Enabled', ...(options.mfaDelete ? {MFADelete: 'Enabled'} : {})})
  if (options.lock) s3Mock.on(GetObjectLockConfigurationCommand).resolves({ObjectLockConfiguration: options.lock})
  else s3Mock.on(GetObjectLockConfigurationCommand).rejects(s3Error('ObjectLockConfigurationNotFoundError', 404))
}

/** The tombstones object as stored: its document and ETag. */
function storedTombstones(tombstones: object[], etag = '"t1"') {
  s3Mock
    .on(GetObjectCommand, {Bucket: sharedBucket, Key: tombstonesKey})
    .callsFake(() => ({Body: streamBody(JSON.stringify({tombstones})), ETag: etag}))
}

const tombstone = {
  bucket,
  engagement_id: engagementId,
  decommissioned_at: '2026-01-02T03:04:05Z',
  decommissioned_by: 'arn:aws:iam::123456789012:user/ops',
}
const sentTombstones = () =>
  JSON.parse(String(s3Mock.commandCalls(PutObjectCommand, {Key: tombstonesKey})[0].args[0].input.Body)).tombstones

beforeEach(() => {
  s3Mock.reset()
})

describe('decommission preflight', () => {
  it('clears a bucket with nothing blocking, check by check, without listing its objects', async () => {
    decommissionable()
    const preflight = await preflightDecommission(testContext(), bucket, sharedBucket, [])
    expect(preflight.ok).toBe(true)
    expect(preflight.checks.map((check) => [check.check, check.ok])).toEqual([
      ['owner', true],
      ['records', true],
      ['managed-by', true],
      ['engagement-tag', true],
      ['index-binding', true],
      ['object-lock', true],
      ['legal-hold', true],
      ['retention', true],
      ['mfa-delete', true],
    ])
    expect(s3Mock).not.toHaveReceivedCommand(ListObjectVersionsCommand)
    for (const call of s3Mock.calls())
      expect((call.args[0].input as {ExpectedBucketOwner?: string}).ExpectedBucketOwner).toBe(accountId)
  })

  it('refuses (exit 5) a bucket with MFA delete enabled, naming it, before anything is listed or deleted', async () => {
    decommissionable({mfaDelete: true})
    await expect(assertDecommissionable(testContext(), bucket, sharedBucket, [])).rejects.toMatchObject({
      exit: 5,
      message: expect.stringContaining(
        "mfa-delete: MFA delete is enabled: versions can only be deleted with the root user's MFA device",
      ),
    })
    expect(s3Mock).not.toHaveReceivedCommand(ListObjectVersionsCommand)
    expect(s3Mock).not.toHaveReceivedCommand(DeleteObjectsCommand)
  })

  it('refuses (exit 5) a bucket with Object Lock, naming the versions under legal hold and unexpired retention', async () => {
    decommissionable({lock: {ObjectLockEnabled: 'Enabled', Rule: {DefaultRetention: {Mode: 'COMPLIANCE', Days: 30}}}})
    s3Mock.on(ListObjectVersionsCommand).resolves({
      Versions: [
        {Key: 'held', VersionId: 'v1'},
        {Key: 'kept', VersionId: 'v2'},
        {Key: 'expired', VersionId: 'v3'},
        {Key: 'free', VersionId: 'v4'},
      ],
      DeleteMarkers: [{Key: 'gone', VersionId: 'm1'}],
      IsTruncated: false,
    })
    s3Mock.on(HeadObjectCommand).resolves({})
    s3Mock.on(HeadObjectCommand, {Key: 'held'}).resolves({ObjectLockLegalHoldStatus: 'ON'})
    s3Mock
      .on(HeadObjectCommand, {Key: 'kept'})
      .resolves({ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: new Date('2099-01-01T00:00:00Z')})
    s3Mock
      .on(HeadObjectCommand, {Key: 'expired'})
      .resolves({ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: new Date('2001-01-01T00:00:00Z')})

    const preflight = await preflightDecommission(testContext(), bucket, sharedBucket, [])
    expect(preflight.ok).toBe(false)
    expect(preflight.checks.filter((check) => !check.ok)).toEqual([
      {check: 'object-lock', ok: false, detail: 'Object Lock is enabled (default retention COMPLIANCE 30 days)'},
      {check: 'legal-hold', ok: false, detail: '1 version under legal hold: held (v1)'},
      {
        check: 'retention',
        ok: false,
        detail: '1 version under unexpired retention: kept (v2) until 2099-01-01T00:00:00.000Z',
      },
    ])
    // One HeadObject per version, pinned to it; none for the delete marker.
    expect(s3Mock).toHaveReceivedCommandTimes(HeadObjectCommand, 4)
    expect(s3Mock).toHaveReceivedCommandWith(HeadObjectCommand, {
      Bucket: bucket,
      Key: 'held',
      VersionId: 'v1',
      ExpectedBucketOwner: accountId,
    })

    await expect(assertDecommissionable(testContext(), bucket, sharedBucket, [])).rejects.toMatchObject({
      exit: 5,
      message: expect.stringMatching(
        /object-lock: Object Lock is enabled.*legal-hold: 1 version.*retention: 1 version.*nothing was deleted/,
      ),
    })
    expect(s3Mock).not.toHaveReceivedCommand(DeleteObjectsCommand)
  })

  it('a bucket of another account (HeadBucket 403) is refused, one that is gone is exit 3', async () => {
    decommissionable()
    s3Mock.on(HeadBucketCommand).rejects(s3Error('Forbidden', 403))
    await expect(preflightDecommission(testContext(), bucket, sharedBucket, [])).rejects.toMatchObject({
      exit: 5,
      message: expect.stringContaining(`not a bucket of account ${accountId}`),
    })
    s3Mock.on(HeadBucketCommand).rejects(new NotFound({$metadata: {httpStatusCode: 404}, message: 'Not Found'}))
    await expect(preflightDecommission(testContext(), bucket, sharedBucket, [])).rejects.toMatchObject({exit: 3})
  })
})

describe('decommission inspection', () => {
  it('ends at the identity check that refuses the bucket, as the last check, with the refusal; nothing further is read', async () => {
    decommissionable()
    s3Mock.on(GetBucketTaggingCommand).resolves({
      TagSet: [
        {Key: 'auditforge:engagement-id', Value: engagementId},
        {Key: 'auditforge:managed-by', Value: 'auditforge'},
        {Key: 'auditforge:index', Value: 'another-index'},
      ],
    })
    const preflight = await inspectDecommission(testContext(), bucket, sharedBucket, [])
    expect(preflight.ok).toBe(false)
    expect(preflight.checks.map((check) => [check.check, check.ok])).toEqual([
      ['owner', true],
      ['records', true],
      ['managed-by', true],
      ['engagement-tag', true],
      ['index-binding', false],
    ])
    expect(preflight.checks.at(-1)!.detail).toContain('bound to the engagement index in another-index')
    expect(preflight.refusal).toMatchObject({exit: 5, message: preflight.checks.at(-1)!.detail})
    expect(clearanceFailure(preflight)).toBe(preflight.refusal)
    expect(s3Mock).not.toHaveReceivedCommand(GetObjectLockConfigurationCommand)
    // preflightDecommission refuses the same at once, as engagement delete relies on.
    await expect(preflightDecommission(testContext(), bucket, sharedBucket, [])).rejects.toMatchObject({
      exit: 5,
      message: expect.stringContaining('bound to the engagement index in another-index'),
    })

    // A record pointing at it: refused before the bucket is even looked at.
    s3Mock.resetHistory()
    const pointed = await inspectDecommission(testContext(), bucket, sharedBucket, ['eng-other'])
    expect(pointed.checks).toEqual([
      {check: 'records', ok: false, detail: `${bucket} is still the bucket of eng-other`},
    ])
    expect(s3Mock).not.toHaveReceivedCommand(HeadBucketCommand)
  })

  it('a blocking retention check is no identity refusal: the failure names every blocking check', async () => {
    decommissionable({mfaDelete: true})
    const preflight = await inspectDecommission(testContext(), bucket, sharedBucket, [])
    expect(preflight.refusal).toBeNull()
    expect(preflight.checks).toHaveLength(9)
    expect(clearanceFailure(preflight)?.message).toContain('mfa-delete: MFA delete is enabled')
  })
})

describe('tombstones', () => {
  it('are recorded with a conditional write that keeps the others, and once only', async () => {
    const other = {...tombstone, bucket: `metis-af-aaaa-${accountId}`, engagement_id: 'eng-aaaa'}
    storedTombstones([other])
    s3Mock.on(PutObjectCommand).resolves({ETag: '"t2"'})
    await recordTombstone(testContext().s3, sharedBucket, tombstone)
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: sharedBucket,
      Key: tombstonesKey,
      IfMatch: '"t1"',
      ContentType: 'application/json',
    })
    expect(sentTombstones()).toEqual([other, tombstone])

    s3Mock.resetHistory()
    storedTombstones([other, tombstone], '"t2"')
    await recordTombstone(testContext().s3, sharedBucket, tombstone)
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand)
  })

  it('the first one creates the object (If-None-Match), and a removal leaves the others', async () => {
    s3Mock.on(GetObjectCommand, {Key: tombstonesKey}).rejects(s3Error('NoSuchKey', 404))
    s3Mock.on(PutObjectCommand).resolves({})
    await recordTombstone(testContext().s3, sharedBucket, tombstone)
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {Key: tombstonesKey, IfNoneMatch: '*'})
    expect(await readTombstones(testContext().s3, sharedBucket)).toEqual([])

    s3Mock.reset()
    const other = {...tombstone, bucket: 'metis-af-bbbb-123456789012'}
    storedTombstones([tombstone, other])
    s3Mock.on(PutObjectCommand).resolves({})
    await removeTombstone(testContext().s3, sharedBucket, bucket)
    expect(sentTombstones()).toEqual([other])
  })

  it('a corrupt tombstones object is reported (exit 1) and never overwritten', async () => {
    s3Mock.on(GetObjectCommand, {Key: tombstonesKey}).callsFake(() => ({Body: streamBody('{not json'), ETag: '"x"'}))
    await expect(recordTombstone(testContext().s3, sharedBucket, tombstone)).rejects.toMatchObject({
      exit: 1,
      code: 'corrupt_tombstones',
    })
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand)
  })

  it('provisioning refuses (exit 5) a tombstoned name before creating anything; --reuse-name provisions it and removes the tombstone', async () => {
    storedTombstones([tombstone])
    s3Mock
      .on(HeadBucketCommand)
      .rejectsOnce(new NotFound({$metadata: {httpStatusCode: 404}, message: 'Not Found'}))
      .resolves({})
    s3Mock.on(CreateBucketCommand).resolves({})
    s3Mock.on(GetBucketTaggingCommand).rejects(s3Error('NoSuchTagSet', 404))
    s3Mock.on(ListObjectVersionsCommand).resolves({})
    await expect(provisionEngagementBucket(testContext(), engagementId)).rejects.toMatchObject({
      exit: 5,
      message: expect.stringContaining(
        `${bucket} was decommissioned (2026-01-02T03:04:05Z, by arn:aws:iam::123456789012:user/ops`,
      ),
      suggestion: expect.stringContaining('--reuse-name'),
    })
    expect(s3Mock).not.toHaveReceivedCommand(CreateBucketCommand)
    expect(s3Mock).not.toHaveReceivedCommand(HeadBucketCommand)

    s3Mock.on(PutObjectCommand).resolves({})
    await provisionEngagementBucket(testContext(), engagementId, {reuseName: true})
    expect(s3Mock).toHaveReceivedCommand(CreateBucketCommand)
    expect(sentTombstones()).toEqual([])
    // The tombstone goes only once the bucket has every control (the tags are written last).
    const names = s3Mock.calls().map((call) => call.args[0].constructor.name)
    expect(names.lastIndexOf('PutObjectCommand')).toBeGreaterThan(names.indexOf('PutBucketTaggingCommand'))
  })
})
