/**
 * The two opt-in logging controls, call by call: server access logging under the engagement's
 * own prefix, and the CloudTrail advanced event selector for the bucket's object-level events,
 * merged with the trail's other selectors (and a trail on basic selectors moved to the
 * equivalent advanced ones only where that is exact).
 */
import {CloudTrailClient, GetEventSelectorsCommand, PutEventSelectorsCommand} from '@aws-sdk/client-cloudtrail'
import {
  DeleteBucketCommand,
  GetBucketLoggingCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutBucketLoggingCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import {mockClient} from 'aws-sdk-client-mock'
import 'aws-sdk-client-mock-vitest/extend'
import {beforeEach, describe, expect, it} from 'vitest'

import {
  checkBucketControls,
  provisionEngagementBucket,
  repairBucketControls,
  retireBucket,
} from '../../src/lib/buckets.js'
import {removeTrailSelector} from '../../src/lib/buckets/trail.js'
import {dataEventsSelectorFor} from './bucket-fixtures.js'
import {accountId, s3Error, sharedBucket, testContext} from './fixtures.js'

const s3Mock = mockClient(S3Client)
const trailMock = mockClient(CloudTrailClient)

const engagementId = 'eng-6715f196fa40'
const bucket = `metis-af-6715f196fa40-${accountId}`
const trail = 'platform-trail'
const logs = 'platform-access-logs'
const prefix = `auditforge/access-logs/${engagementId}/`

const ours = dataEventsSelectorFor(bucket)
const management = {Name: 'Management events', FieldSelectors: [{Field: 'eventCategory', Equals: ['Management']}]}
const theirs = {
  Name: 'Lambda data events',
  FieldSelectors: [
    {Field: 'eventCategory', Equals: ['Data']},
    {Field: 'resources.type', Equals: ['AWS::Lambda::Function']},
  ],
}

/** An existing bucket of this index; only the control under test is looked at. */
function existingBucket() {
  s3Mock.on(GetObjectCommand).rejects(s3Error('NoSuchKey', 404))
  s3Mock.on(HeadBucketCommand).resolves({})
  s3Mock.on(GetBucketTaggingCommand).resolves({
    TagSet: [
      {Key: 'auditforge:engagement-id', Value: engagementId},
      {Key: 'auditforge:managed-by', Value: 'auditforge'},
      {Key: 'auditforge:index', Value: sharedBucket},
    ],
  })
}

const withTrail = () => testContext({'cloudtrail-trail': trail})
const withLogs = () => testContext({'access-log-bucket': logs})
const rowOf = async (context: ReturnType<typeof testContext>, control: string) =>
  (await checkBucketControls(context, bucket)).controls.find((row) => row.control === control)!
const sentSelectors = () => trailMock.commandCalls(PutEventSelectorsCommand)[0].args[0].input.AdvancedEventSelectors

beforeEach(() => {
  s3Mock.reset()
  trailMock.reset()
})

describe('access-logging', () => {
  it('is skipped when not configured, and no logging call is made', async () => {
    existingBucket()
    expect(await rowOf(testContext(), 'access-logging')).toMatchObject({
      status: 'skipped',
      actual: 'skipped: not configured (--access-log-bucket)',
    })
    await provisionEngagementBucket(testContext(), engagementId)
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketLoggingCommand)
    expect(s3Mock).not.toHaveReceivedCommand(GetBucketLoggingCommand)
  })

  it('provisioning turns it on into the log bucket under the engagement prefix', async () => {
    existingBucket()
    await provisionEngagementBucket(withLogs(), engagementId)
    expect(s3Mock).toHaveReceivedCommandWith(PutBucketLoggingCommand, {
      Bucket: bucket,
      ExpectedBucketOwner: accountId,
      BucketLoggingStatus: {LoggingEnabled: {TargetBucket: logs, TargetPrefix: prefix}},
    })
  })

  it('verify: off, another bucket or another prefix is drift; --fix turns it on again', async () => {
    existingBucket()
    s3Mock.on(GetBucketLoggingCommand).resolves({})
    expect(await rowOf(withLogs(), 'access-logging')).toMatchObject({
      status: 'fail',
      actual: 'off',
      expected: `s3://${logs}/${prefix}`,
    })
    s3Mock.on(GetBucketLoggingCommand).resolves({LoggingEnabled: {TargetBucket: logs, TargetPrefix: 'other/'}})
    expect(await rowOf(withLogs(), 'access-logging')).toMatchObject({status: 'fail', actual: `s3://${logs}/other/`})
    s3Mock.on(GetBucketLoggingCommand).resolves({LoggingEnabled: {TargetBucket: logs, TargetPrefix: prefix}})
    expect((await rowOf(withLogs(), 'access-logging')).status).toBe('pass')

    s3Mock.reset()
    existingBucket()
    s3Mock
      .on(GetBucketLoggingCommand)
      .resolvesOnce({})
      .resolves({LoggingEnabled: {TargetBucket: logs, TargetPrefix: prefix}})
    await repairBucketControls(withLogs(), bucket)
    expect(s3Mock).toHaveReceivedCommandTimes(PutBucketLoggingCommand, 1)
  })
})

describe('cloudtrail-data-events', () => {
  it('adds the bucket selector to a trail on advanced selectors, keeping the others (ours replaced, not doubled)', async () => {
    existingBucket()
    trailMock.on(GetEventSelectorsCommand).resolves({
      AdvancedEventSelectors: [management, theirs, {...ours, FieldSelectors: ours.FieldSelectors.slice(0, 2)}],
    })
    await provisionEngagementBucket(withTrail(), engagementId)
    expect(trailMock).toHaveReceivedCommandWith(GetEventSelectorsCommand, {TrailName: trail})
    expect(trailMock).toHaveReceivedCommandTimes(PutEventSelectorsCommand, 1)
    expect(trailMock).toHaveReceivedCommandWith(PutEventSelectorsCommand, {TrailName: trail})
    expect(sentSelectors()).toEqual([management, theirs, ours])
  })

  it('moves a trail on basic management selectors to the equivalent advanced ones, and one without any keeps its management events', async () => {
    existingBucket()
    trailMock.on(GetEventSelectorsCommand).resolves({
      EventSelectors: [
        {
          ReadWriteType: 'WriteOnly',
          IncludeManagementEvents: true,
          ExcludeManagementEventSources: ['kms.amazonaws.com'],
          DataResources: [],
        },
      ],
    })
    await provisionEngagementBucket(withTrail(), engagementId)
    expect(sentSelectors()).toEqual([
      {
        Name: 'Management events',
        FieldSelectors: [
          {Field: 'eventCategory', Equals: ['Management']},
          {Field: 'readOnly', Equals: ['false']},
          {Field: 'eventSource', NotEquals: ['kms.amazonaws.com']},
        ],
      },
      ours,
    ])

    trailMock.reset()
    trailMock.on(GetEventSelectorsCommand).resolves({})
    await provisionEngagementBucket(withTrail(), engagementId)
    expect(sentSelectors()).toEqual([management, ours])
  })

  it('leaves a trail with basic data resources alone and says why (exit 1)', async () => {
    existingBucket()
    trailMock.on(GetEventSelectorsCommand).resolves({
      EventSelectors: [
        {
          ReadWriteType: 'All',
          IncludeManagementEvents: true,
          DataResources: [{Type: 'AWS::Lambda::Function', Values: ['arn:aws:lambda']}],
        },
      ],
    })
    await expect(provisionEngagementBucket(withTrail(), engagementId)).rejects.toMatchObject({
      exit: 1,
      code: 'trail_basic_selectors',
      message: expect.stringContaining(trail),
    })
    expect(trailMock).not.toHaveReceivedCommand(PutEventSelectorsCommand)
  })

  it.each([
    ['our own selector', {AdvancedEventSelectors: [management, ours]}, 'pass', `selector "auditforge ${bucket}"`],
    [
      'a selector for every S3 object',
      {
        AdvancedEventSelectors: [
          {
            Name: 'all',
            FieldSelectors: [
              {Field: 'eventCategory', Equals: ['Data']},
              {Field: 'resources.type', Equals: ['AWS::S3::Object']},
            ],
          },
        ],
      },
      'pass',
      'covered by another selector',
    ],
    [
      'a basic data resource for the bucket',
      {
        EventSelectors: [
          {ReadWriteType: 'All', DataResources: [{Type: 'AWS::S3::Object', Values: [`arn:aws:s3:::${bucket}/`]}]},
        ],
      },
      'pass',
      'covered by another selector',
    ],
    [
      'writes only',
      {
        AdvancedEventSelectors: [
          {...ours, FieldSelectors: [...ours.FieldSelectors, {Field: 'readOnly', Equals: ['false']}]},
        ],
      },
      'fail',
      `not logged by ${trail}`,
    ],
    [
      'another bucket',
      {
        AdvancedEventSelectors: [
          {
            ...ours,
            FieldSelectors: [
              ours.FieldSelectors[0],
              ours.FieldSelectors[1],
              {Field: 'resources.ARN', StartsWith: ['arn:aws:s3:::other/']},
            ],
          },
        ],
      },
      'fail',
      `not logged by ${trail}`,
    ],
    ['no selectors', {}, 'fail', `not logged by ${trail}`],
    // Narrowed or excluding selectors do not log every event of the bucket.
    [
      'all of S3 but this bucket (NotStartsWith)',
      {
        AdvancedEventSelectors: [
          {
            Name: 'all but',
            FieldSelectors: [
              ours.FieldSelectors[0],
              ours.FieldSelectors[1],
              {Field: 'resources.ARN', StartsWith: ['arn:aws:s3:::'], NotStartsWith: [`arn:aws:s3:::${bucket}/`]},
            ],
          },
        ],
      },
      'fail',
      `not logged by ${trail}`,
    ],
    [
      'one role only (userIdentity.arn)',
      {
        AdvancedEventSelectors: [
          {
            Name: 'task',
            FieldSelectors: [
              ours.FieldSelectors[0],
              ours.FieldSelectors[1],
              {Field: 'userIdentity.arn', StartsWith: ['arn:aws:sts::123456789012:assumed-role/platform-task/']},
            ],
          },
        ],
      },
      'fail',
      `not logged by ${trail}`,
    ],
    [
      'one event source (eventSource)',
      {
        AdvancedEventSelectors: [
          {Name: 'src', FieldSelectors: [...ours.FieldSelectors, {Field: 'eventSource', Equals: ['s3.amazonaws.com']}]},
        ],
      },
      'fail',
      `not logged by ${trail}`,
    ],
    [
      'a prefix that ends in a suffix filter (EndsWith)',
      {
        AdvancedEventSelectors: [
          {
            Name: 'json',
            FieldSelectors: [
              ours.FieldSelectors[0],
              ours.FieldSelectors[1],
              {Field: 'resources.ARN', StartsWith: [`arn:aws:s3:::${bucket}/`], EndsWith: ['.json']},
            ],
          },
        ],
      },
      'fail',
      `not logged by ${trail}`,
    ],
    [
      'excluding a resource type (NotEquals)',
      {
        AdvancedEventSelectors: [
          {
            Name: 'x',
            FieldSelectors: [
              ours.FieldSelectors[0],
              {Field: 'resources.type', Equals: ['AWS::S3::Object'], NotEquals: ['AWS::S3::Object']},
            ],
          },
        ],
      },
      'fail',
      `not logged by ${trail}`,
    ],
  ])('verify: %s', async (_what, reply, status, actual) => {
    existingBucket()
    trailMock.on(GetEventSelectorsCommand).resolves(reply as never)
    expect(await rowOf(withTrail(), 'cloudtrail-data-events')).toMatchObject({status, actual})
  })

  it("decommissioning takes only the bucket's selector off the trail; a failure there is reported, the bucket is gone anyway", async () => {
    existingBucket()
    const trailContext = withTrail()
    trailMock.on(GetEventSelectorsCommand).resolves({AdvancedEventSelectors: [management, ours, theirs]})
    trailMock.on(PutEventSelectorsCommand).resolves({})
    expect(await removeTrailSelector(new CloudTrailClient({region: 'us-east-1'}), trail, bucket)).toBe('removed')
    expect(sentSelectors()).toEqual([management, theirs])

    // Not there: nothing written.
    trailMock.reset()
    trailMock.on(GetEventSelectorsCommand).resolves({AdvancedEventSelectors: [management]})
    expect(await removeTrailSelector(new CloudTrailClient({region: 'us-east-1'}), trail, bucket)).toBe('absent')
    expect(trailMock).not.toHaveReceivedCommand(PutEventSelectorsCommand)

    trailMock.reset()
    trailMock
      .on(GetEventSelectorsCommand)
      .rejects(Object.assign(new Error('no trail'), {name: 'TrailNotFoundException', $metadata: {httpStatusCode: 400}}))
    s3Mock.on(PutObjectCommand).resolves({ETag: '"t"'})
    s3Mock.on(ListObjectVersionsCommand).resolves({IsTruncated: false})
    s3Mock.on(ListMultipartUploadsCommand).resolves({IsTruncated: false})
    s3Mock.on(DeleteBucketCommand).resolves({})
    const preflight = {bucket, engagementId, checks: []} as unknown as Parameters<typeof retireBucket>[1]
    const result = await retireBucket(trailContext, preflight, sharedBucket)
    expect(s3Mock).toHaveReceivedCommandTimes(DeleteBucketCommand, 1)
    expect(result.trail_selector).toEqual({error: expect.stringContaining(trail)})
  })

  it('is skipped, and CloudTrail never called, when no trail is configured', async () => {
    existingBucket()
    expect(await rowOf(testContext(), 'cloudtrail-data-events')).toMatchObject({
      status: 'skipped',
      actual: 'skipped: not configured (--cloudtrail-trail)',
    })
    expect(trailMock).not.toHaveReceivedAnyCommand()
  })
})
