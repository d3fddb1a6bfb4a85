import {
  GetObjectCommand,
  AbortMultipartUploadCommand,
  BucketAlreadyExists,
  BucketAlreadyOwnedByYou,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  NoSuchBucket,
  NotFound,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import {mockClient} from 'aws-sdk-client-mock'
import 'aws-sdk-client-mock-vitest/extend'
import {beforeEach, describe, expect, it} from 'vitest'

import {
  assertDecommissionable,
  bucketNameFor,
  checkBucketControls,
  decommissionBucket,
  parseTag,
  parseTags,
  provisionEngagementBucket,
  repairBucketControls,
} from '../../src/lib/buckets.js'
import {defaultRulesFor, tlsStatementFor} from './bucket-fixtures.js'
import {accountId, s3Error, sharedBucket, streamBody, testContext} from './fixtures.js'

const s3Mock = mockClient(S3Client)

const engagementId = 'eng-6715f196fa40'
const bucket = `metis-af-6715f196fa40-${accountId}`
const putCommandNames = [
  'PutPublicAccessBlockCommand',
  'PutBucketOwnershipControlsCommand',
  'PutBucketEncryptionCommand',
  'PutBucketVersioningCommand',
  'PutBucketPolicyCommand',
  'PutBucketLifecycleConfigurationCommand',
  'PutBucketTaggingCommand',
]

/** The TLS-only statement as auditforge writes it for `bucket`. */
const tlsStatement = tlsStatementFor(bucket)

/** The lifecycle rules auditforge writes by default for `engagementId`. */
const defaultRules = defaultRulesFor(engagementId)

function putsSucceed() {
  s3Mock.on(PutPublicAccessBlockCommand).resolves({})
  s3Mock.on(PutBucketOwnershipControlsCommand).resolves({})
  s3Mock.on(PutBucketEncryptionCommand).resolves({})
  s3Mock.on(PutBucketVersioningCommand).resolves({})
  s3Mock.on(PutBucketTaggingCommand).resolves({})
  s3Mock.on(PutBucketPolicyCommand).resolves({})
  s3Mock.on(PutBucketLifecycleConfigurationCommand).resolves({})
}

/** How many times each bucket-control Put was sent. */
function putCounts(): Record<string, number> {
  const counts = Object.fromEntries(putCommandNames.map((name) => [name, 0]))
  for (const name of calledNames()) if (name in counts) counts[name]++
  return counts
}

const eachPutOnce = Object.fromEntries(putCommandNames.map((name) => [name, 1]))
const noPuts = Object.fromEntries(putCommandNames.map((name) => [name, 0]))

const notFound = () => new NotFound({$metadata: {httpStatusCode: 404}, message: 'Not Found'})

/** Every call the mock saw, as [command name, input]. */
function history(): [string, Record<string, unknown>][] {
  return s3Mock.calls().map((call) => {
    const command = call.args[0] as unknown as {constructor: {name: string}; input: Record<string, unknown>}
    return [command.constructor.name, command.input]
  })
}

/** The calls to the per-engagement bucket (provisioning also reads the shared bucket's tombstones). */
function bucketHistory(): [string, Record<string, unknown>][] {
  return history().filter(([, input]) => input.Bucket === bucket)
}

function calledNames(): string[] {
  return bucketHistory().map(([name]) => name)
}

const tombstonesKey = 'auditforge/decommissioned-buckets.json'

/** No bucket has been decommissioned yet: the tombstones object does not exist. */
function noTombstones() {
  s3Mock.on(GetObjectCommand, {Bucket: sharedBucket, Key: tombstonesKey}).rejects(s3Error('NoSuchKey', 404))
}

/** A bucket that does not exist yet; creating it and setting controls succeeds. */
function freshBucket() {
  noTombstones()
  // Not there until CreateBucket; then HeadBucket proves it is this account's.
  s3Mock.on(HeadBucketCommand).rejectsOnce(notFound()).resolves({})
  s3Mock.on(CreateBucketCommand).resolves({Location: `/${bucket}`})
  s3Mock.on(GetBucketTaggingCommand).rejects(s3Error('NoSuchTagSet', 404, 'The TagSet does not exist'))
  // Created now: no object in it (a bucket that appeared meanwhile would have some).
  s3Mock.on(ListObjectVersionsCommand).resolves({})
  putsSucceed()
}

/** A bucket with every control in place; pass overrides to introduce drift. */
function compliantBucket(
  overrides: {
    ownership?: string
    versioning?: 'Enabled' | 'Suspended' | undefined
    algorithm?: 'AES256' | 'aws:kms' | undefined
    block?: boolean[]
    tags?: {Key: string; Value: string}[]
    /** The auditforge:index tag: the shared bucket by default, null for none. */
    binding?: string | null
    /** The bucket policy's statements: the TLS-only one by default, null for no policy. */
    statements?: object[] | null
    /** The lifecycle rules: auditforge's defaults by default, null for no configuration. */
    rules?: object[] | null
  } = {},
) {
  noTombstones()
  s3Mock.on(HeadBucketCommand).resolves({})
  if (overrides.statements === null) s3Mock.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucketPolicy', 404))
  else
    s3Mock
      .on(GetBucketPolicyCommand)
      .resolves({Policy: JSON.stringify({Version: '2012-10-17', Statement: overrides.statements ?? [tlsStatement]})})
  if (overrides.rules === null)
    s3Mock.on(GetBucketLifecycleConfigurationCommand).rejects(s3Error('NoSuchLifecycleConfiguration', 404))
  else s3Mock.on(GetBucketLifecycleConfigurationCommand).resolves({Rules: (overrides.rules ?? defaultRules) as never})
  s3Mock.on(GetBucketOwnershipControlsCommand).resolves({
    OwnershipControls: {
      Rules: [{ObjectOwnership: (overrides.ownership ?? 'BucketOwnerEnforced') as 'BucketOwnerEnforced'}],
    },
  })
  s3Mock
    .on(GetBucketVersioningCommand)
    .resolves('versioning' in overrides ? {Status: overrides.versioning} : {Status: 'Enabled'})
  if ('algorithm' in overrides && overrides.algorithm === undefined) {
    s3Mock.on(GetBucketEncryptionCommand).rejects(s3Error('ServerSideEncryptionConfigurationNotFoundError', 404))
  } else {
    s3Mock.on(GetBucketEncryptionCommand).resolves({
      ServerSideEncryptionConfiguration: {
        Rules: [
          {
            ApplyServerSideEncryptionByDefault: {
              SSEAlgorithm: overrides.algorithm ?? 'AES256',
              ...(overrides.algorithm === 'aws:kms'
                ? {KMSMasterKeyID: 'arn:aws:kms:us-east-1:123456789012:key/k'}
                : {}),
            },
          },
        ],
      },
    })
  }
  const [a, b, c, d] = overrides.block ?? [true, true, true, true]
  s3Mock.on(GetPublicAccessBlockCommand).resolves({
    PublicAccessBlockConfiguration: {
      BlockPublicAcls: a,
      IgnorePublicAcls: b,
      BlockPublicPolicy: c,
      RestrictPublicBuckets: d,
    },
  })
  const binding = overrides.binding === undefined ? sharedBucket : overrides.binding
  s3Mock.on(GetBucketTaggingCommand).resolves({
    TagSet: [
      ...(overrides.tags ?? [
        {Key: 'auditforge:engagement-id', Value: engagementId},
        {Key: 'auditforge:managed-by', Value: 'auditforge'},
      ]),
      ...(binding === null ? [] : [{Key: 'auditforge:index', Value: binding}]),
    ],
  })
  putsSucceed()
}

beforeEach(() => {
  s3Mock.reset()
})

describe('provisionEngagementBucket', () => {
  it('creates the bucket and applies every control, passing ExpectedBucketOwner on every per-engagement call', async () => {
    freshBucket()
    const steps: string[] = []
    const result = await provisionEngagementBucket(testContext(), engagementId, {
      tags: [{Key: 'cost-centre', Value: 'audit'}],
      onStep: (step) => steps.push(step),
    })

    expect(result).toEqual({bucket, created: true, skipped: []})
    expect(steps).toEqual([
      'create',
      'public-access-block',
      'object-ownership',
      'encryption',
      'versioning',
      'tls-only',
      'lifecycle',
      'tags',
    ])
    // Besides the per-engagement bucket, only the tombstones next to the index are read.
    expect(history().filter(([, input]) => input.Bucket !== bucket)).toEqual([
      ['GetObjectCommand', {Bucket: sharedBucket, Key: tombstonesKey}],
    ])
    const calls = bucketHistory()
    expect(calls.length).toBeGreaterThanOrEqual(8)
    for (const [name, input] of calls) {
      expect(input.Bucket, name).toBe(bucket)
      // CreateBucket has no ExpectedBucketOwner parameter in the S3 API; every other call must carry it.
      if (name !== 'CreateBucketCommand') expect(input.ExpectedBucketOwner, name).toBe(accountId)
    }
    // Public access is blocked before anything else is configured.
    // CreateBucket cannot carry ExpectedBucketOwner: HeadBucket proves ownership right after it,
    // and a bucket with no tags and no object proves it is the one just created.
    expect(calledNames().slice(0, 6)).toEqual([
      'HeadBucketCommand',
      'CreateBucketCommand',
      'HeadBucketCommand',
      'GetBucketTaggingCommand',
      'ListObjectVersionsCommand',
      'PutPublicAccessBlockCommand',
    ])

    expect(s3Mock).toHaveReceivedCommandWith(PutPublicAccessBlockCommand, {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        IgnorePublicAcls: true,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: true,
      },
    })
    expect(s3Mock).toHaveReceivedCommandWith(PutBucketOwnershipControlsCommand, {
      OwnershipControls: {Rules: [{ObjectOwnership: 'BucketOwnerEnforced'}]},
    })
    expect(s3Mock).toHaveReceivedCommandWith(PutBucketEncryptionCommand, {
      ServerSideEncryptionConfiguration: {Rules: [{ApplyServerSideEncryptionByDefault: {SSEAlgorithm: 'AES256'}}]},
    })
    expect(s3Mock).toHaveReceivedCommandWith(PutBucketVersioningCommand, {VersioningConfiguration: {Status: 'Enabled'}})
    const tagSet = s3Mock.commandCalls(PutBucketTaggingCommand)[0].args[0].input.Tagging?.TagSet
    expect(tagSet).toEqual(
      expect.arrayContaining([
        {Key: 'auditforge:engagement-id', Value: engagementId},
        {Key: 'auditforge:managed-by', Value: 'auditforge'},
        {Key: 'auditforge:index', Value: sharedBucket},
        {Key: 'cost-centre', Value: 'audit'},
      ]),
    )
    expect(tagSet).toHaveLength(4)
  })

  it('creates with Object Ownership BucketOwnerEnforced and no LocationConstraint in us-east-1', async () => {
    freshBucket()
    await provisionEngagementBucket(testContext({region: 'us-east-1'}), engagementId)
    const input = s3Mock.commandCalls(CreateBucketCommand)[0].args[0].input
    expect(input).toMatchObject({Bucket: bucket, ObjectOwnership: 'BucketOwnerEnforced'})
    expect(input.CreateBucketConfiguration).toBeUndefined()
  })

  it('sets LocationConstraint outside us-east-1', async () => {
    freshBucket()
    await provisionEngagementBucket(testContext({region: 'eu-west-2'}, {}, 'eu-west-2'), engagementId)
    expect(s3Mock).toHaveReceivedCommandWith(CreateBucketCommand, {
      Bucket: bucket,
      ObjectOwnership: 'BucketOwnerEnforced',
      CreateBucketConfiguration: {LocationConstraint: 'eu-west-2'},
    })
  })

  it('sets LocationConstraint from the client region when no --region/AWS_REGION was given (e.g. a profile region)', async () => {
    freshBucket()
    await provisionEngagementBucket(testContext({}, {}, 'ap-southeast-2'), engagementId)
    expect(s3Mock).toHaveReceivedCommandWith(CreateBucketCommand, {
      CreateBucketConfiguration: {LocationConstraint: 'ap-southeast-2'},
    })
  })

  it('BucketAlreadyExists is a hard error and nothing is written to that bucket', async () => {
    freshBucket()
    s3Mock
      .on(CreateBucketCommand)
      .rejects(new BucketAlreadyExists({$metadata: {httpStatusCode: 409}, message: 'taken'}))
    await expect(provisionEngagementBucket(testContext(), engagementId)).rejects.toMatchObject({
      code: 'bucket_owned_elsewhere',
      exit: 1,
      message: expect.stringContaining(bucket),
    })
    expect(putCounts()).toEqual(noPuts)
    expect(calledNames().filter((name) => name.startsWith('Put'))).toEqual([])
    expect(calledNames()).toEqual(['HeadBucketCommand', 'CreateBucketCommand'])
  })

  it('BucketAlreadyOwnedByYou re-applies the controls and reports created=false', async () => {
    freshBucket()
    s3Mock.on(GetBucketTaggingCommand).resolves({TagSet: [{Key: 'auditforge:index', Value: sharedBucket}]})
    s3Mock
      .on(CreateBucketCommand)
      .rejects(new BucketAlreadyOwnedByYou({$metadata: {httpStatusCode: 409}, message: 'yours'}))
    const result = await provisionEngagementBucket(testContext(), engagementId)
    expect(result).toEqual({bucket, created: false, skipped: []})
    expect(putCounts()).toEqual(eachPutOnce)
  })

  it('an existing bucket of ours (HeadBucket 200) is not created again but repaired, keeping foreign tags', async () => {
    freshBucket()
    s3Mock.on(HeadBucketCommand).resolves({})
    s3Mock.on(GetBucketTaggingCommand).resolves({
      TagSet: [
        {Key: 'team', Value: 'audit'},
        {Key: 'auditforge:engagement-id', Value: 'eng-wrong'},
        {Key: 'auditforge:index', Value: sharedBucket},
      ],
    })
    const result = await provisionEngagementBucket(testContext(), engagementId)
    expect(result.created).toBe(false)
    expect(s3Mock).not.toHaveReceivedCommand(CreateBucketCommand)
    expect(putCounts()).toEqual(eachPutOnce)
    const tagSet = s3Mock.commandCalls(PutBucketTaggingCommand)[0].args[0].input.Tagging?.TagSet
    expect(tagSet).toEqual(
      expect.arrayContaining([
        {Key: 'team', Value: 'audit'},
        {Key: 'auditforge:engagement-id', Value: engagementId},
        {Key: 'auditforge:managed-by', Value: 'auditforge'},
        {Key: 'auditforge:index', Value: sharedBucket},
      ]),
    )
    expect(tagSet).toHaveLength(4)
  })

  it("a bucket that is not this account's right after CreateBucket (HeadBucket 403) is never written to", async () => {
    freshBucket()
    s3Mock.on(HeadBucketCommand).rejectsOnce(notFound()).rejects(s3Error('Forbidden', 403))
    await expect(provisionEngagementBucket(testContext(), engagementId)).rejects.toMatchObject({
      code: 'bucket_owned_elsewhere',
      exit: 1,
    })
    expect(calledNames()).toEqual(['HeadBucketCommand', 'CreateBucketCommand', 'HeadBucketCommand'])
    expect(s3Mock.commandCalls(CreateBucketCommand)[0].args[0].input).not.toHaveProperty('ExpectedBucketOwner')
  })

  it("HeadBucket 403 is treated as someone else's bucket: no CreateBucket, no Put", async () => {
    freshBucket()
    s3Mock.on(HeadBucketCommand).rejects(s3Error('Forbidden', 403))
    await expect(provisionEngagementBucket(testContext(), engagementId)).rejects.toMatchObject({
      code: 'bucket_owned_elsewhere',
      exit: 1,
    })
    expect(calledNames()).toEqual(['HeadBucketCommand'])
  })

  it('AccessDenied on a Put is an error naming the action and the bucket, exit 1', async () => {
    freshBucket()
    s3Mock.on(PutBucketVersioningCommand).rejects(s3Error('AccessDenied', 403, 'Access Denied'))
    await expect(provisionEngagementBucket(testContext(), engagementId)).rejects.toMatchObject({
      code: 'access_denied',
      exit: 1,
      message: `Enabling versioning s3://${bucket}: access denied`,
    })
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketTaggingCommand)
  })

  it('a failure creating the bucket names the action and bucket', async () => {
    freshBucket()
    s3Mock.on(CreateBucketCommand).rejects(s3Error('AccessDenied', 403))
    await expect(provisionEngagementBucket(testContext(), engagementId)).rejects.toMatchObject({
      message: `Creating the bucket s3://${bucket}: access denied`,
      exit: 1,
    })
  })

  it('refuses a bad id before any call', async () => {
    await expect(provisionEngagementBucket(testContext(), '../x')).rejects.toMatchObject({exit: 2})
    expect(s3Mock).not.toHaveReceivedAnyCommand()
  })

  it('bucketNameFor uses the configured prefix and the account id', async () => {
    await expect(bucketNameFor(testContext(), engagementId)).resolves.toBe(bucket)
    await expect(bucketNameFor(testContext({}, {AUDITFORGE_BUCKET_PREFIX: 'acme-'}), 'eng-abc')).resolves.toBe(
      `acme-abc-${accountId}`,
    )
  })
})

describe('parseTag / parseTags', () => {
  it('parses key=value, allowing = in the value', () => {
    expect(parseTag('cost-centre=audit')).toEqual({Key: 'cost-centre', Value: 'audit'})
    expect(parseTag('expr=a=b')).toEqual({Key: 'expr', Value: 'a=b'})
    expect(parseTag('empty=')).toEqual({Key: 'empty', Value: ''})
  })

  it.each(['novalue', '=x', 'aws:x=1', 'auditforge:managed-by=me', 'AUDITFORGE:x=1', `${'k'.repeat(129)}=v`, 'k=a;b'])(
    'refuses %j with exit 2',
    (text) => {
      expect(() => parseTag(text)).toThrow(expect.objectContaining({exit: 2}))
    },
  )

  it('refuses duplicate keys and too many tags', () => {
    expect(() => parseTags(['a=1', 'a=2'])).toThrow(expect.objectContaining({exit: 2}))
    expect(() => parseTags(Array.from({length: 49}, (_, i) => `k${i}=v`))).toThrow(expect.objectContaining({exit: 2}))
    expect(parseTags(['a=1', 'b=2'])).toHaveLength(2)
  })
})

describe('checkBucketControls', () => {
  it('passes a compliant bucket, control by control, with ExpectedBucketOwner on every call', async () => {
    compliantBucket()
    const check = await checkBucketControls(testContext(), bucket)
    expect(check.ok).toBe(true)
    expect(check.engagementId).toBe(engagementId)
    expect(check.controls.map((control) => [control.control, control.ok])).toEqual([
      ['owner', true],
      ['public-access-block', true],
      ['object-ownership', true],
      ['encryption', true],
      ['versioning', true],
      ['tls-only', true],
      ['least-privilege', true],
      ['lifecycle', true],
      ['access-logging', true],
      ['cloudtrail-data-events', true],
      ['tags', true],
      ['index-binding', true],
    ])
    for (const [name, input] of history()) expect(input.ExpectedBucketOwner, name).toBe(accountId)
    expect(calledNames().filter((name) => name.startsWith('Put'))).toEqual([])
  })

  it.each([
    ['object-ownership', {ownership: 'ObjectWriter'}, 'ObjectWriter'],
    ['versioning', {versioning: 'Suspended'}, 'Suspended'],
    ['versioning', {versioning: undefined}, 'never enabled'],
    ['encryption', {algorithm: undefined}, 'none'],
    ['public-access-block', {block: [true, true, false, true]}, '3 of 4 true'],
    ['tags', {tags: [{Key: 'auditforge:engagement-id', Value: engagementId}]}, 'auditforge:managed-by missing'],
    ['tags', {tags: []}, 'auditforge:engagement-id missing, auditforge:managed-by missing'],
    [
      'tags',
      {
        tags: [
          {Key: 'auditforge:engagement-id', Value: 'eng-other'},
          {Key: 'auditforge:managed-by', Value: 'auditforge'},
        ],
      },
      'auditforge:engagement-id=eng-other, auditforge:managed-by=auditforge',
    ],
  ] as const)('reports drift of %s (%j)', async (control, overrides, actual) => {
    compliantBucket(overrides as Parameters<typeof compliantBucket>[0])
    const check = await checkBucketControls(testContext(), bucket)
    expect(check.ok).toBe(false)
    const failing = check.controls.filter((c) => !c.ok)
    expect(failing.map((c) => c.control)).toEqual([control])
    expect(failing[0].actual).toBe(actual)
  })

  it('counts a missing public access block and missing tags as drift', async () => {
    compliantBucket()
    s3Mock.on(GetPublicAccessBlockCommand).rejects(s3Error('NoSuchPublicAccessBlockConfiguration', 404))
    s3Mock.on(GetBucketTaggingCommand).rejects(s3Error('NoSuchTagSet', 404))
    s3Mock.on(GetBucketOwnershipControlsCommand).rejects(s3Error('OwnershipControlsNotFoundError', 404))
    const check = await checkBucketControls(testContext(), bucket)
    expect(check.controls.filter((c) => !c.ok).map((c) => [c.control, c.actual])).toEqual([
      ['public-access-block', 'not set'],
      ['object-ownership', 'not set'],
      ['tags', 'auditforge:engagement-id missing, auditforge:managed-by missing'],
      ['index-binding', 'not bound'],
    ])
  })

  it('accepts KMS encryption as at least AES256', async () => {
    compliantBucket({algorithm: 'aws:kms'})
    const check = await checkBucketControls(testContext(), bucket)
    expect(check.ok).toBe(true)
    expect(check.controls.find((c) => c.control === 'encryption')?.actual).toBe(
      'aws:kms (arn:aws:kms:us-east-1:123456789012:key/k)',
    )
  })

  it('a bucket of another account (HeadBucket 403) fails the owner control without reading anything else', async () => {
    compliantBucket()
    s3Mock.on(HeadBucketCommand).rejects(s3Error('Forbidden', 403))
    const check = await checkBucketControls(testContext(), bucket)
    expect(check.ok).toBe(false)
    expect(check.controls).toEqual([expect.objectContaining({control: 'owner', ok: false})])
    expect(calledNames()).toEqual(['HeadBucketCommand'])
  })

  it('a missing bucket is exit 3', async () => {
    s3Mock.on(HeadBucketCommand).rejects(notFound())
    await expect(checkBucketControls(testContext(), bucket)).rejects.toMatchObject({
      exit: 3,
      message: expect.stringContaining(bucket),
    })
  })

  it('a name that is not a per-engagement bucket is refused (exit 5) before any call', async () => {
    await expect(checkBucketControls(testContext(), sharedBucket)).rejects.toMatchObject({exit: 5})
    expect(s3Mock).not.toHaveReceivedAnyCommand()
  })
})

describe('repairBucketControls', () => {
  it('re-applies only the failing controls', async () => {
    compliantBucket({block: [true, false, true, true]})
    s3Mock.on(GetBucketVersioningCommand).resolvesOnce({Status: 'Suspended'}).resolves({Status: 'Enabled'})
    s3Mock
      .on(GetPublicAccessBlockCommand)
      .resolvesOnce({
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          IgnorePublicAcls: false,
          BlockPublicPolicy: true,
          RestrictPublicBuckets: true,
        },
      })
      .resolves({
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          IgnorePublicAcls: true,
          BlockPublicPolicy: true,
          RestrictPublicBuckets: true,
        },
      })
    const after = await repairBucketControls(testContext(), bucket)
    expect(after.ok).toBe(true)
    expect(s3Mock).toHaveReceivedCommandTimes(PutBucketVersioningCommand, 1)
    expect(s3Mock).toHaveReceivedCommandTimes(PutPublicAccessBlockCommand, 1)
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketEncryptionCommand)
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketOwnershipControlsCommand)
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketTaggingCommand)
    for (const [name, input] of history()) expect(input.ExpectedBucketOwner, name).toBe(accountId)
  })

  it('never overwrites aws:kms encryption with AES256', async () => {
    compliantBucket({algorithm: 'aws:kms', tags: [{Key: 'team', Value: 'x'}]})
    await repairBucketControls(testContext(), bucket)
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketEncryptionCommand)
    expect(s3Mock).toHaveReceivedCommandTimes(PutBucketTaggingCommand, 1)
    const tagSet = s3Mock.commandCalls(PutBucketTaggingCommand)[0].args[0].input.Tagging?.TagSet
    expect(tagSet).toEqual(
      expect.arrayContaining([
        {Key: 'team', Value: 'x'},
        {Key: 'auditforge:engagement-id', Value: engagementId},
        {Key: 'auditforge:managed-by', Value: 'auditforge'},
      ]),
    )
  })

  it('re-applies AES256 when there is no default encryption at all', async () => {
    compliantBucket({algorithm: undefined})
    await repairBucketControls(testContext(), bucket)
    expect(s3Mock).toHaveReceivedCommandExactlyOnceWith(PutBucketEncryptionCommand, {
      Bucket: bucket,
      ExpectedBucketOwner: accountId,
      ServerSideEncryptionConfiguration: {Rules: [{ApplyServerSideEncryptionByDefault: {SSEAlgorithm: 'AES256'}}]},
    })
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketVersioningCommand)
  })

  it('writes nothing to a compliant bucket or to a bucket of another account', async () => {
    compliantBucket()
    expect((await repairBucketControls(testContext(), bucket)).ok).toBe(true)
    s3Mock.on(HeadBucketCommand).rejects(s3Error('Forbidden', 403))
    expect((await repairBucketControls(testContext(), bucket)).ok).toBe(false)
    expect(calledNames().filter((name) => name.startsWith('Put'))).toEqual([])
  })
})

describe('assertDecommissionable', () => {
  const managed = [
    {Key: 'auditforge:engagement-id', Value: engagementId},
    {Key: 'auditforge:managed-by', Value: 'auditforge'},
    {Key: 'auditforge:index', Value: sharedBucket},
  ]

  it('allows an unreferenced, managed bucket of this account', async () => {
    s3Mock.on(GetBucketTaggingCommand).resolves({TagSet: managed})
    await expect(assertDecommissionable(testContext(), bucket, sharedBucket, [])).resolves.toMatchObject({
      bucket,
      engagementId,
      ok: true,
    })
    expect(s3Mock).toHaveReceivedCommandWith(GetBucketTaggingCommand, {Bucket: bucket, ExpectedBucketOwner: accountId})
  })

  it('refuses the shared bucket (exit 5)', async () => {
    const shared = `metis-af-abc-${accountId}`
    await expect(
      assertDecommissionable(testContext({'shared-bucket': shared}), shared, shared, []),
    ).rejects.toMatchObject({
      exit: 5,
      code: 'refused',
      message: expect.stringContaining('shared platform bucket'),
    })
    expect(s3Mock).not.toHaveReceivedAnyCommand()
  })

  it.each(['some-other-bucket', `metis-af-abc-${accountId}-x`, `other-6715f196fa40-${accountId}`])(
    'refuses %s, not of the per-engagement form (exit 5)',
    async (name) => {
      await expect(assertDecommissionable(testContext(), name, sharedBucket, [])).rejects.toMatchObject({exit: 5})
      expect(s3Mock).not.toHaveReceivedAnyCommand()
    },
  )

  it('refuses a bucket of another account (exit 5)', async () => {
    await expect(
      assertDecommissionable(testContext(), 'metis-af-6715f196fa40-999999999999', sharedBucket, []),
    ).rejects.toMatchObject({
      exit: 5,
      message: expect.stringContaining('999999999999'),
    })
    expect(s3Mock).not.toHaveReceivedAnyCommand()
  })

  it('refuses a bucket an engagement record points at (exit 5), naming the engagement', async () => {
    s3Mock.on(GetBucketTaggingCommand).resolves({TagSet: managed})
    await expect(assertDecommissionable(testContext(), bucket, sharedBucket, [engagementId])).rejects.toMatchObject({
      exit: 5,
      message: expect.stringContaining(engagementId),
    })
  })

  it.each([
    ['no tags at all', undefined],
    ['a different managed-by value', [{Key: 'auditforge:managed-by', Value: 'someone-else'}]],
    ['only the engagement tag', [{Key: 'auditforge:engagement-id', Value: engagementId}]],
  ])('refuses a bucket without the managed-by tag (%s), exit 5', async (_what, tags) => {
    if (tags) s3Mock.on(GetBucketTaggingCommand).resolves({TagSet: tags})
    else s3Mock.on(GetBucketTaggingCommand).rejects(s3Error('NoSuchTagSet', 404))
    await expect(assertDecommissionable(testContext(), bucket, sharedBucket, [])).rejects.toMatchObject({
      exit: 5,
      message: expect.stringContaining('auditforge:managed-by=auditforge'),
    })
  })

  it('a bucket that does not exist is exit 3', async () => {
    s3Mock.on(GetBucketTaggingCommand).rejects(new NoSuchBucket({$metadata: {httpStatusCode: 404}, message: 'gone'}))
    await expect(assertDecommissionable(testContext(), bucket, sharedBucket, [])).rejects.toMatchObject({exit: 3})
  })
})

describe('decommissionBucket', () => {
  it('deletes every version and delete marker, aborts uploads, then deletes the bucket, all with ExpectedBucketOwner', async () => {
    s3Mock.on(ListObjectVersionsCommand).resolves({
      Versions: [
        {Key: 'a', VersionId: 'v1', Size: 3},
        {Key: 'a', VersionId: 'v2', Size: 4},
      ],
      DeleteMarkers: [{Key: 'b', VersionId: 'm1'}],
      IsTruncated: false,
    })
    s3Mock.on(DeleteObjectsCommand).resolves({})
    s3Mock.on(ListMultipartUploadsCommand).resolves({Uploads: [{Key: 'big', UploadId: 'u1'}], IsTruncated: false})
    s3Mock.on(AbortMultipartUploadCommand).resolves({})
    s3Mock.on(DeleteBucketCommand).resolves({})
    const progress: number[] = []
    const result = await decommissionBucket(testContext(), bucket, {onProgress: (p) => progress.push(p.deleted)})
    expect(result).toEqual({bucket, deleted: 3, uploads_aborted: 1, trail_selector: null})
    expect(progress.at(-1)).toBe(3)
    expect(s3Mock).toHaveReceivedCommandWith(DeleteObjectsCommand, {
      Delete: {
        Objects: [
          {Key: 'a', VersionId: 'v1'},
          {Key: 'a', VersionId: 'v2'},
          {Key: 'b', VersionId: 'm1'},
        ],
        Quiet: true,
      },
    })
    expect(s3Mock).toHaveReceivedCommandWith(AbortMultipartUploadCommand, {Key: 'big', UploadId: 'u1'})
    expect(calledNames().at(-1)).toBe('DeleteBucketCommand')
    for (const [name, input] of history()) {
      expect(input.Bucket, name).toBe(bucket)
      expect(input.ExpectedBucketOwner, name).toBe(accountId)
    }
  })

  it('empties again when writes raced in (BucketNotEmpty), and gives up after three passes', async () => {
    s3Mock.on(ListObjectVersionsCommand).resolves({Versions: [{Key: 'late', VersionId: 'v1'}], IsTruncated: false})
    s3Mock.on(DeleteObjectsCommand).resolves({})
    s3Mock.on(ListMultipartUploadsCommand).resolves({IsTruncated: false})
    s3Mock.on(DeleteBucketCommand).rejectsOnce(s3Error('BucketNotEmpty', 409)).resolves({})
    await expect(decommissionBucket(testContext(), bucket)).resolves.toMatchObject({deleted: 2})
    expect(s3Mock).toHaveReceivedCommandTimes(DeleteBucketCommand, 2)

    s3Mock.on(DeleteBucketCommand).rejects(s3Error('BucketNotEmpty', 409))
    s3Mock.resetHistory()
    await expect(decommissionBucket(testContext(), bucket)).rejects.toMatchObject({
      exit: 1,
      message: expect.stringContaining(bucket),
    })
    expect(s3Mock).toHaveReceivedCommandTimes(DeleteBucketCommand, 3)
  })
})

describe('index binding (auditforge:index)', () => {
  const indexWith = (records: unknown[]) => {
    s3Mock
      .on(GetObjectCommand)
      .callsFake(() => ({Body: streamBody(JSON.stringify({engagements: records})), ETag: '"i"'}))
  }

  it('verify reports a bucket bound to another index, and one bound to none', async () => {
    compliantBucket({binding: 'staging-shared'})
    let check = await checkBucketControls(testContext(), bucket)
    expect(check.controls.filter((c) => !c.ok).map((c) => [c.control, c.actual])).toEqual([
      ['index-binding', 'auditforge:index=staging-shared'],
    ])
    compliantBucket({binding: null})
    check = await checkBucketControls(testContext(), bucket)
    expect(check.controls.filter((c) => !c.ok).map((c) => [c.control, c.actual])).toEqual([
      ['index-binding', 'not bound'],
    ])
  })

  it('--fix binds an unbound bucket only when a record of this index points at it', async () => {
    // Drifted policy and lifecycle too: an unclaimed bucket could be another environment's, so
    // neither this index's binding nor its policy (which may deny that environment's roles) is written.
    compliantBucket({binding: null, statements: null, rules: []})
    indexWith([{engagement_id: 'eng-other', source_bucket: ''}])
    const unclaimed = await repairBucketControls(
      testContext({'allow-principal': ['arn:aws:iam::123456789012:role/prod-task']}),
      bucket,
    )
    expect(unclaimed.ok).toBe(false)
    expect(unclaimed.fix_refused).toContain('not bound to any engagement index')
    expect(putCounts()).toEqual(noPuts)

    s3Mock.reset()
    compliantBucket({binding: null})
    indexWith([{engagement_id: engagementId, source_bucket: bucket}])
    await repairBucketControls(testContext(), bucket)
    const tagSet = s3Mock.commandCalls(PutBucketTaggingCommand)[0].args[0].input.Tagging?.TagSet
    expect(tagSet).toEqual(expect.arrayContaining([{Key: 'auditforge:index', Value: sharedBucket}]))
  })

  it('--fix writes nothing to a bucket bound to another index, not even the controls that drifted, and says why', async () => {
    compliantBucket({binding: 'staging-shared', versioning: 'Suspended'})
    indexWith([{engagement_id: engagementId, source_bucket: bucket}])
    const result = await repairBucketControls(testContext(), bucket)
    expect(result.ok).toBe(false)
    expect(result.fix_refused).toContain('bound to the engagement index in staging-shared')
    expect(calledNames().filter((name) => name.startsWith('Put'))).toEqual([])
  })

  it('provisioning refuses (exit 5) an existing bucket bound to another index and writes nothing', async () => {
    compliantBucket({binding: 'staging-shared'})
    await expect(provisionEngagementBucket(testContext(), engagementId)).rejects.toMatchObject({
      exit: 5,
      message: expect.stringContaining('staging-shared'),
    })
    expect(calledNames().filter((name) => name.startsWith('Put') || name === 'CreateBucketCommand')).toEqual([])
  })

  it('provisioning refuses (exit 5) an existing unbound bucket unless the operator claims it (bindUnbound), then binds it', async () => {
    compliantBucket({binding: null})
    await expect(provisionEngagementBucket(testContext(), engagementId)).rejects.toMatchObject({
      exit: 5,
      message: expect.stringContaining('not bound to any engagement index'),
    })
    expect(calledNames().filter((name) => name.startsWith('Put'))).toEqual([])
    await provisionEngagementBucket(testContext(), engagementId, {bindUnbound: true})
    const tagSet = s3Mock.commandCalls(PutBucketTaggingCommand)[0].args[0].input.Tagging?.TagSet
    expect(tagSet).toEqual(expect.arrayContaining([{Key: 'auditforge:index', Value: sharedBucket}]))
  })

  it('an existing bucket with no auditforge tag and nothing in it (a provision cut short before tagging) is completed and bound', async () => {
    compliantBucket({tags: [], binding: null})
    s3Mock.on(ListObjectVersionsCommand).resolves({IsTruncated: false})
    await provisionEngagementBucket(testContext(), engagementId)
    const tagSet = s3Mock.commandCalls(PutBucketTaggingCommand)[0].args[0].input.Tagging?.TagSet
    expect(tagSet).toEqual(expect.arrayContaining([{Key: 'auditforge:index', Value: sharedBucket}]))
    // The same bucket holding anything is not claimed without --force.
    s3Mock.reset()
    compliantBucket({tags: [], binding: null})
    s3Mock.on(ListObjectVersionsCommand).resolves({Versions: [{Key: 'k', VersionId: 'v'}], IsTruncated: false})
    await expect(provisionEngagementBucket(testContext(), engagementId)).rejects.toMatchObject({exit: 5})
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketTaggingCommand)
  })

  it('decommission refuses a bucket bound to another index, and an unbound one unless told it may', async () => {
    compliantBucket({binding: 'staging-shared'})
    await expect(assertDecommissionable(testContext(), bucket, sharedBucket, [])).rejects.toMatchObject({
      exit: 5,
      message: expect.stringContaining('bound to the engagement index in staging-shared'),
    })
    await expect(
      assertDecommissionable(testContext(), bucket, sharedBucket, [], {unboundOk: true}),
    ).rejects.toMatchObject({exit: 5})
    compliantBucket({binding: null})
    await expect(assertDecommissionable(testContext(), bucket, sharedBucket, [])).rejects.toMatchObject({
      exit: 5,
      message: expect.stringContaining('not bound to any engagement index'),
    })
    await expect(
      assertDecommissionable(testContext(), bucket, sharedBucket, [], {unboundOk: true}),
    ).resolves.toMatchObject({ok: true})
  })

  it('decommission for an engagement refuses a bucket tagged for another engagement', async () => {
    compliantBucket({
      tags: [
        {Key: 'auditforge:engagement-id', Value: 'eng-other'},
        {Key: 'auditforge:managed-by', Value: 'auditforge'},
      ],
    })
    await expect(assertDecommissionable(testContext(), bucket, sharedBucket, [], {engagementId})).rejects.toMatchObject(
      {exit: 5},
    )
  })
})
