/**
 * Found by an adversarial review of the bucket controls (verify --fix on other indexes'
 * buckets, the least-privilege caller check with iam:GetRole, CloudTrail selector coverage and
 * removal), call by call with aws-sdk-client-mock: a path-agnostic pattern only when the role's
 * path is unknown, no session ARNs as principals, a binding that appears between check and write
 * kept, the trail flag carried into retry commands, a removed new bucket's selector taken off,
 * and a trail's last selector left rather than replaced by management events.
 */
import {
  CloudTrailClient,
  GetEventSelectorsCommand,
  PutEventSelectorsCommand,
  type AdvancedEventSelector,
} from '@aws-sdk/client-cloudtrail'
import {GetRoleCommand, IAMClient} from '@aws-sdk/client-iam'
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketPolicyCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectVersionsCommand,
  NoSuchKey,
  NotFound,
  PutBucketTaggingCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import {mockClient} from 'aws-sdk-client-mock'
import 'aws-sdk-client-mock-vitest/extend'
import {beforeEach, describe, expect, it} from 'vitest'

import {assertAllowsCaller, provisionEngagementBucket, repairBucketControls} from '../../src/lib/buckets.js'
import {validatePrincipal} from '../../src/lib/buckets/principals.js'
import {removeTrailSelector} from '../../src/lib/buckets/trail.js'
import type {EngagementRecord} from '../../src/lib/engagement-index.js'
import {deleteEngagement} from '../../src/lib/engagements.js'
import {dataEventsSelectorFor, defaultRulesFor, serveBaselineControls, tlsStatementFor} from './bucket-fixtures.js'
import {accountId, recordOf, s3Error, serveIndex, sharedBucket, testContext} from './fixtures.js'

const s3Mock = mockClient(S3Client)
const iamMock = mockClient(IAMClient)
const trailMock = mockClient(CloudTrailClient)

const engagementId = 'eng-6715f196fa40'
const bucket = `metis-af-6715f196fa40-${accountId}`
const trail = 'platform-trail'
const tombstonesKey = 'auditforge/decommissioned-buckets.json'

const tlsStatement = tlsStatementFor(bucket)
const defaultRules = defaultRulesFor(engagementId)

const indexWith = (...records: EngagementRecord[]) => serveIndex(s3Mock, ...records)

/** Every control in place but the ones the tags say; the tag set is served by the caller. */
function compliantButTags() {
  s3Mock
    .on(GetObjectCommand, {Key: tombstonesKey})
    .rejects(new NoSuchKey({$metadata: {httpStatusCode: 404}, message: 'no'}))
  serveBaselineControls(s3Mock)
  s3Mock.on(GetBucketEncryptionCommand).resolves({
    ServerSideEncryptionConfiguration: {Rules: [{ApplyServerSideEncryptionByDefault: {SSEAlgorithm: 'AES256'}}]},
  })
  s3Mock
    .on(GetBucketPolicyCommand)
    .resolves({Policy: JSON.stringify({Version: '2012-10-17', Statement: [tlsStatement]})})
  s3Mock.on(GetBucketLifecycleConfigurationCommand).resolves({Rules: defaultRules as never})
}

const ours = dataEventsSelectorFor(bucket)

/** A trail as CloudTrail would keep it: GetEventSelectors answers what PutEventSelectors last wrote. */
function trailHolding(selectors: AdvancedEventSelector[]) {
  const state = {advanced: selectors}
  trailMock.on(GetEventSelectorsCommand).callsFake(() => ({
    TrailARN: `arn:aws:cloudtrail:us-east-1:${accountId}:trail/${trail}`,
    AdvancedEventSelectors: state.advanced,
  }))
  trailMock.on(PutEventSelectorsCommand).callsFake((input: {AdvancedEventSelectors: AdvancedEventSelector[]}) => {
    state.advanced = input.AdvancedEventSelectors
    return {}
  })
  return state
}

beforeEach(() => {
  s3Mock.reset()
  iamMock.reset()
  trailMock.reset()
})

describe('least-privilege lock-out check', () => {
  const asCaller = (arn: string, flags: Parameters<typeof testContext>[0] = {}) => ({
    ...testContext(flags),
    callerArn: async () => arn,
  })

  it('with the role path unknown, refuses a pattern that matches the probe path "auditforge-any-path/x/" but not a real path', async () => {
    // GetRole denied: the path of auditforge-operator is unknown. Its real path could be /ops/, and
    // then aws:PrincipalArn is arn:aws:iam::123456789012:role/ops/auditforge-operator, which
    // role/auditforge-* does not match: the written policy would deny the caller.
    iamMock
      .on(GetRoleCommand)
      .rejects(Object.assign(new Error('denied'), {name: 'AccessDenied', $metadata: {httpStatusCode: 403}}))
    const session = 'arn:aws:sts::123456789012:assumed-role/auditforge-operator/alice'
    for (const pattern of ['arn:aws:iam::123456789012:role/auditforge-*', 'arn:aws:iam::123456789012:role/a*']) {
      await expect(
        assertAllowsCaller(asCaller(session, {'allow-principal': [pattern]})),
        pattern,
      ).rejects.toMatchObject({exit: 2})
    }
  })

  it('refuses an assumed-role session ARN in --allow-principal: aws:PrincipalArn never carries one, so the principal would be denied', () => {
    // IAM: for a role, aws:PrincipalArn is the role's ARN; "do not specify the assumed role
    // session ARN as a value for this condition key".
    expect(() => validatePrincipal('arn:aws:sts::123456789012:assumed-role/platform-task/i-0abc')).toThrow(
      expect.objectContaining({exit: 2}),
    )
  })
})

describe('bucket verify --fix and the index binding', () => {
  it('does not overwrite a binding to another index that appears between the check and the tag write', async () => {
    compliantButTags()
    indexWith(recordOf(engagementId, bucket))
    const unbound = {
      TagSet: [
        {Key: 'auditforge:engagement-id', Value: engagementId},
        {Key: 'auditforge:managed-by', Value: 'auditforge'},
      ],
    }
    const staging = {TagSet: [...unbound.TagSet, {Key: 'auditforge:index', Value: 'staging-shared'}]}
    // 1: the check's read, 2: the binding read by repairBucketControls; then staging's
    // `bucket provision --force` binds the bucket; 3: the read the tag write makes.
    s3Mock.on(GetBucketTaggingCommand).resolvesOnce(unbound).resolvesOnce(unbound).resolves(staging)
    s3Mock.on(PutBucketTaggingCommand).resolves({})
    await repairBucketControls(testContext(), bucket).catch(() => undefined)
    const rebinds = s3Mock
      .commandCalls(PutBucketTaggingCommand)
      .filter((call) =>
        call.args[0].input.Tagging?.TagSet?.some(
          (tag) => tag.Key === 'auditforge:index' && tag.Value !== 'staging-shared',
        ),
      )
    expect(rebinds).toEqual([])
  })
})

describe('CloudTrail selector cleanup', () => {
  it('engagement delete: the retry command of a failed cleanup keeps --cloudtrail-trail, so the retry takes the selector off too', async () => {
    const own = `metis-af-abc-${accountId}`
    s3Mock
      .on(GetObjectCommand, {Key: tombstonesKey})
      .rejects(new NoSuchKey({$metadata: {httpStatusCode: 404}, message: 'no'}))
    s3Mock.on(ListObjectVersionsCommand).resolves({IsTruncated: false})
    s3Mock.on(PutObjectCommand).resolves({})
    indexWith(recordOf('eng-abc', own))
    s3Mock.on(GetBucketTaggingCommand).rejects(s3Error('AccessDenied', 403))
    const result = await deleteEngagement(testContext({'cloudtrail-trail': trail}), sharedBucket, 'eng-abc', {
      keepData: false,
    })
    expect(result.bucket).toBe('cleanup_failed')
    expect(result.retry_command).toContain(`--cloudtrail-trail ${trail}`)
  })

  it('engagement create / provision: a new bucket removed again after a failed step leaves no selector on the trail', async () => {
    s3Mock
      .on(GetObjectCommand, {Key: tombstonesKey})
      .rejects(new NoSuchKey({$metadata: {httpStatusCode: 404}, message: 'no'}))
    s3Mock
      .on(HeadBucketCommand)
      .rejectsOnce(new NotFound({$metadata: {httpStatusCode: 404}, message: 'Not Found'}))
      .resolves({})
    s3Mock.on(CreateBucketCommand).resolves({})
    s3Mock.on(GetBucketTaggingCommand).rejects(s3Error('NoSuchTagSet', 404))
    s3Mock.on(ListObjectVersionsCommand).resolves({})
    s3Mock.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucketPolicy', 404))
    s3Mock.on(GetBucketLifecycleConfigurationCommand).rejects(s3Error('NoSuchLifecycleConfiguration', 404))
    // The tags come after the trail selector in the table; their write fails.
    s3Mock.on(PutBucketTaggingCommand).rejects(s3Error('InternalError', 500))
    s3Mock.on(DeleteBucketCommand).resolves({})
    const management = {Name: 'Management events', FieldSelectors: [{Field: 'eventCategory', Equals: ['Management']}]}
    const state = trailHolding([management])
    await expect(
      provisionEngagementBucket(testContext({'cloudtrail-trail': trail}), engagementId, {removeIfIncomplete: true}),
    ).rejects.toThrow(/removed again/)
    expect(s3Mock).toHaveReceivedCommandWith(DeleteBucketCommand, {Bucket: bucket})
    expect(state.advanced.map((selector) => selector.Name)).toEqual(['Management events'])
  })

  it('removing the last selector of a data-events-only trail does not turn on management events the trail did not log', async () => {
    // A trail dedicated to data events (management events logged by another trail, e.g. the
    // organization's): its only selector was auditforge's. Afterwards it must not start
    // logging (and billing) a second copy of every management event.
    const state = trailHolding([ours])
    await removeTrailSelector(new CloudTrailClient({region: 'us-east-1'}), trail, bucket)
    const logsManagement = state.advanced.some((selector) =>
      selector.FieldSelectors?.some((field) => field.Field === 'eventCategory' && field.Equals?.includes('Management')),
    )
    expect(logsManagement).toBe(false)
  })
})
