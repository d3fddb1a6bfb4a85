/**
 * The controls table's newer entries, call by call: encryption that is never downgraded,
 * the TLS-only statement merged into a policy that keeps everyone else's statements, and the
 * lifecycle rules merged rule by rule. What moto cannot show (an https endpoint's TLS-only
 * policy, the exact documents sent) is shown here.
 */
import {
  CreateBucketCommand,
  DeleteBucketPolicyCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketPolicyCommand,
  GetBucketTaggingCommand,
  HeadBucketCommand,
  NotFound,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import {GetRoleCommand, IAMClient} from '@aws-sdk/client-iam'
import {mockClient} from 'aws-sdk-client-mock'
import 'aws-sdk-client-mock-vitest/extend'
import {beforeEach, describe, expect, it} from 'vitest'

import {
  assertAllowsCaller,
  bucketControls,
  callerPrincipal,
  checkBucketControls,
  principalMatches,
  provisionEngagementBucket,
  repairBucketControls,
} from '../../src/lib/buckets.js'
import {
  abortRule,
  archiveRuleFor,
  leastPrivilegeStatementFor,
  markersRule,
  serveBaselineControls,
  tlsStatementFor,
} from './bucket-fixtures.js'
import {accountId, s3Error, sharedBucket, testContext} from './fixtures.js'

const s3Mock = mockClient(S3Client)

const engagementId = 'eng-6715f196fa40'
const bucket = `metis-af-6715f196fa40-${accountId}`
const keyArn = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'
const plainHttp = {AWS_ENDPOINT_URL: 'http://127.0.0.1:5000'}

const tlsStatement = tlsStatementFor(bucket)
const foreignStatement = {
  Sid: 'PlatformReadOnly',
  Effect: 'Allow',
  Principal: {AWS: 'arn:aws:iam::123456789012:role/reader'},
  Action: ['s3:GetObject'],
  Resource: `arn:aws:s3:::${bucket}/*`,
}
const archiveRule = (days = 90) => archiveRuleFor(engagementId, days)
const foreignRule = {ID: 'platform-expire-tmp', Status: 'Enabled', Filter: {Prefix: 'tmp/'}, Expiration: {Days: 1}}

/** A bucket with every control in place (AES256, the TLS statement, the default rules); override to drift. */
function compliantBucket(
  overrides: {encryption?: object | null; statements?: object[] | null; rules?: object[] | null} = {},
) {
  noTombstones()
  serveBaselineControls(s3Mock)
  if (overrides.encryption === null)
    s3Mock.on(GetBucketEncryptionCommand).rejects(s3Error('ServerSideEncryptionConfigurationNotFoundError', 404))
  else {
    s3Mock.on(GetBucketEncryptionCommand).resolves({
      ServerSideEncryptionConfiguration: {
        Rules: [(overrides.encryption ?? {ApplyServerSideEncryptionByDefault: {SSEAlgorithm: 'AES256'}}) as never],
      },
    })
  }
  if (overrides.statements === null) s3Mock.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucketPolicy', 404))
  else
    s3Mock
      .on(GetBucketPolicyCommand)
      .resolves({Policy: JSON.stringify({Version: '2012-10-17', Statement: overrides.statements ?? [tlsStatement]})})
  if (overrides.rules === null)
    s3Mock.on(GetBucketLifecycleConfigurationCommand).rejects(s3Error('NoSuchLifecycleConfiguration', 404))
  else
    s3Mock
      .on(GetBucketLifecycleConfigurationCommand)
      .resolves({Rules: (overrides.rules ?? [abortRule, markersRule, archiveRule()]) as never})
  s3Mock.on(GetBucketTaggingCommand).resolves({
    TagSet: [
      {Key: 'auditforge:engagement-id', Value: engagementId},
      {Key: 'auditforge:managed-by', Value: 'auditforge'},
      {Key: 'auditforge:index', Value: sharedBucket},
    ],
  })
}

/** No bucket has been decommissioned yet: the tombstones object next to the index does not exist. */
function noTombstones() {
  s3Mock.on(GetObjectCommand, {Key: 'auditforge/decommissioned-buckets.json'}).rejects(s3Error('NoSuchKey', 404))
}

const sentPolicy = () => JSON.parse(s3Mock.commandCalls(PutBucketPolicyCommand)[0].args[0].input.Policy!)
const sentRules = () =>
  s3Mock.commandCalls(PutBucketLifecycleConfigurationCommand)[0].args[0].input.LifecycleConfiguration!.Rules!
const row = async (control: string, context = testContext()) =>
  (await checkBucketControls(context, bucket)).controls.find((c) => c.control === control)!

beforeEach(() => {
  s3Mock.reset()
})

describe('the controls table', () => {
  it('has one entry per control, each with a description, a step, when it applies, and standards ids', () => {
    const ids = bucketControls.map((control) => control.id)
    expect(new Set(ids).size).toBe(ids.length)
    for (const control of bucketControls) {
      expect(control.description.length, control.id).toBeGreaterThan(20)
      expect(control.step.length, control.id).toBeGreaterThan(5)
      expect(control.appliesWhen.length, control.id).toBeGreaterThan(2)
      for (const id of control.standards.fsbp ?? []) expect(id).toMatch(/^S3\.\d+$/)
      for (const id of control.standards.cis ?? []) expect(id).toMatch(/^\d+\.\d+(\.\d+)?$/)
      for (const id of control.standards.prowler ?? []) expect(id).toMatch(/^[a-z0-9_]+$/)
    }
    expect(bucketControls.find((control) => control.id === 'tls-only')?.standards).toEqual({
      fsbp: ['S3.5'],
      cis: ['2.1.1'],
      prowler: ['s3_bucket_secure_transport_policy'],
    })
  })
})

describe('encryption', () => {
  it('provisioning keeps an SSE-KMS bucket SSE-KMS: no PutBucketEncryption without --kms-key-id', async () => {
    compliantBucket({
      encryption: {
        ApplyServerSideEncryptionByDefault: {SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn},
        BucketKeyEnabled: true,
      },
    })
    await provisionEngagementBucket(testContext(), engagementId)
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketEncryptionCommand)
    expect(s3Mock).toHaveReceivedCommandWith(GetBucketEncryptionCommand, {
      Bucket: bucket,
      ExpectedBucketOwner: accountId,
    })
  })

  it('--kms-key-id provisions SSE-KMS with that key and a bucket key', async () => {
    compliantBucket()
    await provisionEngagementBucket(testContext({'kms-key-id': keyArn}), engagementId)
    expect(s3Mock).toHaveReceivedCommandExactlyOnceWith(PutBucketEncryptionCommand, {
      Bucket: bucket,
      ExpectedBucketOwner: accountId,
      ServerSideEncryptionConfiguration: {
        Rules: [
          {
            ApplyServerSideEncryptionByDefault: {SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn},
            BucketKeyEnabled: true,
          },
        ],
      },
    })
  })

  it('AUDITFORGE_KMS_KEY_ID does the same, and a DSSE-KMS bucket keeps its second layer', async () => {
    compliantBucket({
      encryption: {ApplyServerSideEncryptionByDefault: {SSEAlgorithm: 'aws:kms:dsse', KMSMasterKeyID: 'other'}},
    })
    await provisionEngagementBucket(testContext({}, {AUDITFORGE_KMS_KEY_ID: keyArn}), engagementId)
    const sent = s3Mock.commandCalls(PutBucketEncryptionCommand)[0].args[0].input.ServerSideEncryptionConfiguration
    expect(sent).toEqual({
      Rules: [
        {
          ApplyServerSideEncryptionByDefault: {SSEAlgorithm: 'aws:kms:dsse', KMSMasterKeyID: keyArn},
          BucketKeyEnabled: true,
        },
      ],
    })
  })

  it('with --kms-key-id, verify fails AES256 and another key, passes the key by ARN or bare id, and --fix sets it', async () => {
    const context = testContext({'kms-key-id': keyArn})
    compliantBucket()
    expect(await row('encryption', context)).toMatchObject({
      status: 'fail',
      actual: 'AES256',
      expected: `aws:kms (${keyArn}, bucket key)`,
    })
    compliantBucket({
      encryption: {
        ApplyServerSideEncryptionByDefault: {
          SSEAlgorithm: 'aws:kms',
          KMSMasterKeyID: 'arn:aws:kms:us-east-1:123456789012:key/other',
        },
        BucketKeyEnabled: true,
      },
    })
    expect((await row('encryption', context)).status).toBe('fail')
    compliantBucket({
      encryption: {
        ApplyServerSideEncryptionByDefault: {
          SSEAlgorithm: 'aws:kms',
          KMSMasterKeyID: '1234abcd-12ab-34cd-56ef-1234567890ab',
        },
        BucketKeyEnabled: true,
      },
    })
    expect((await row('encryption', context)).status).toBe('pass')

    s3Mock.reset()
    compliantBucket()
    s3Mock
      .on(GetBucketEncryptionCommand)
      .resolvesOnce({
        ServerSideEncryptionConfiguration: {Rules: [{ApplyServerSideEncryptionByDefault: {SSEAlgorithm: 'AES256'}}]},
      })
      .resolves({
        ServerSideEncryptionConfiguration: {
          Rules: [
            {
              ApplyServerSideEncryptionByDefault: {SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn},
              BucketKeyEnabled: true,
            },
          ],
        },
      })
    expect((await repairBucketControls(context, bucket)).ok).toBe(true)
    expect(s3Mock).toHaveReceivedCommandTimes(PutBucketEncryptionCommand, 1)
    expect(
      s3Mock.commandCalls(PutBucketEncryptionCommand)[0].args[0].input.ServerSideEncryptionConfiguration?.Rules?.[0]
        .ApplyServerSideEncryptionByDefault?.SSEAlgorithm,
    ).toBe('aws:kms')
  })
})

describe('tls-only', () => {
  it('provisioning writes the TLS-only statement into a policy that keeps every other statement', async () => {
    compliantBucket({statements: [foreignStatement]})
    await provisionEngagementBucket(testContext(), engagementId)
    expect(s3Mock).toHaveReceivedCommandWith(PutBucketPolicyCommand, {Bucket: bucket, ExpectedBucketOwner: accountId})
    expect(sentPolicy()).toEqual({Version: '2012-10-17', Statement: [foreignStatement, tlsStatement]})
  })

  it('a bucket without a policy gets one with only the TLS-only statement; an outdated own statement is replaced, not doubled', async () => {
    compliantBucket({statements: null})
    await provisionEngagementBucket(testContext(), engagementId)
    expect(sentPolicy()).toEqual({Version: '2012-10-17', Statement: [tlsStatement]})

    s3Mock.reset()
    compliantBucket({statements: [{...tlsStatement, Action: 's3:GetObject'}, foreignStatement]})
    const drifted = await row('tls-only')
    expect(drifted).toMatchObject({
      status: 'fail',
      ok: false,
      actual: 'statement AuditforgeDenyInsecureTransport changed',
    })
    await repairBucketControls(testContext(), bucket)
    expect(sentPolicy().Statement).toEqual([foreignStatement, tlsStatement])
  })

  it('passes an equivalent statement of the operator own (another Sid, one-item lists, a boolean condition)', async () => {
    const theirs = {
      Sid: 'EnforceTLS',
      Effect: 'Deny',
      Principal: {AWS: '*'},
      Action: ['s3:*'],
      Resource: [`arn:aws:s3:::${bucket}/*`, `arn:aws:s3:::${bucket}`],
      Condition: {Bool: {'aws:SecureTransport': false}},
    }
    compliantBucket({statements: [theirs]})
    expect(await row('tls-only')).toMatchObject({status: 'pass', actual: 'statement EnforceTLS'})
  })

  it('reports a missing policy as drift, and --fix writes it without touching anything else', async () => {
    compliantBucket({statements: null})
    expect(await row('tls-only')).toMatchObject({status: 'fail', actual: 'no such statement'})
    await repairBucketControls(testContext(), bucket)
    expect(sentPolicy()).toEqual({Version: '2012-10-17', Statement: [tlsStatement]})
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketLifecycleConfigurationCommand)
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketEncryptionCommand)
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketTaggingCommand)
  })

  it('is skipped on a plain-http endpoint: not applied, reported to the caller, and shown as skipped (never pass) by verify', async () => {
    compliantBucket({statements: null})
    s3Mock.on(CreateBucketCommand).resolves({})
    const result = await provisionEngagementBucket(testContext({}, plainHttp), engagementId)
    expect(result.skipped).toEqual([{control: 'tls-only', reason: expect.stringContaining('plain-http')}])
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand)
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketPolicyCommand)

    const check = await checkBucketControls(testContext({}, plainHttp), bucket)
    const tls = check.controls.find((c) => c.control === 'tls-only')!
    expect(tls.status).toBe('skipped')
    expect(tls.actual).toMatch(/^skipped: plain-http/)
    expect(check.ok).toBe(true)
    // The policy is read (once) only to look for a least-privilege statement left behind.
    expect(check.controls.find((c) => c.control === 'least-privilege')?.status).toBe('skipped')
    // --fix has nothing to do for it either.
    await repairBucketControls(testContext({}, plainHttp), bucket)
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand)
  })

  it('uses the partition of the region in the resource ARNs', async () => {
    compliantBucket({statements: null})
    await provisionEngagementBucket(testContext({region: 'cn-north-1'}, {}, 'cn-north-1'), engagementId)
    expect(sentPolicy().Statement[0].Resource).toEqual([`arn:aws-cn:s3:::${bucket}`, `arn:aws-cn:s3:::${bucket}/*`])
  })
})

describe('lifecycle', () => {
  it('provisioning merges auditforge rules into the configuration there, keeping other rules and the size default', async () => {
    compliantBucket({rules: [foreignRule]})
    s3Mock
      .on(GetBucketLifecycleConfigurationCommand)
      .resolves({Rules: [foreignRule as never], TransitionDefaultMinimumObjectSize: 'varies_by_storage_class'})
    await provisionEngagementBucket(testContext(), engagementId)
    expect(s3Mock).toHaveReceivedCommandWith(PutBucketLifecycleConfigurationCommand, {
      Bucket: bucket,
      ExpectedBucketOwner: accountId,
      TransitionDefaultMinimumObjectSize: 'varies_by_storage_class',
    })
    expect(sentRules()).toEqual([foreignRule, abortRule, markersRule, archiveRule()])
  })

  it('archive days 0 leaves out the archive rule; --noncurrent-days adds the expiry of old versions', async () => {
    compliantBucket({rules: null})
    await provisionEngagementBucket(
      testContext({'archive-findings-after-days': 0, 'noncurrent-days': 365}),
      engagementId,
    )
    expect(sentRules()).toEqual([
      abortRule,
      markersRule,
      {
        ID: 'auditforge-expire-noncurrent-versions',
        Status: 'Enabled',
        Filter: {Prefix: ''},
        NoncurrentVersionExpiration: {NoncurrentDays: 365},
      },
    ])
  })

  it.each([
    [
      'no configuration',
      null,
      'missing auditforge-abort-incomplete-multipart-uploads, auditforge-expired-delete-markers, auditforge-archive-findings',
    ],
    ['a rule changed', [abortRule, markersRule, archiveRule(30)], 'changed auditforge-archive-findings'],
    [
      'a rule disabled',
      [{...abortRule, Status: 'Disabled'}, markersRule, archiveRule()],
      'changed auditforge-abort-incomplete-multipart-uploads',
    ],
    [
      'an own rule the settings do not ask for',
      [
        abortRule,
        markersRule,
        archiveRule(),
        {
          ID: 'auditforge-expire-noncurrent-versions',
          Status: 'Enabled',
          Filter: {},
          NoncurrentVersionExpiration: {NoncurrentDays: 1},
        },
      ],
      'not configured but present auditforge-expire-noncurrent-versions',
    ],
  ])('reports drift: %s', async (_what, rules, actual) => {
    compliantBucket({rules: rules as object[] | null})
    expect(await row('lifecycle')).toMatchObject({status: 'fail', actual})
  })

  it('passes its own rules among others, whatever the form of the whole-bucket filter, and ignores size filters S3-compatible servers drop', async () => {
    compliantBucket({
      rules: [
        foreignRule,
        {...abortRule, Filter: {}},
        {...markersRule, Filter: undefined, Prefix: ''},
        {...archiveRule(), Filter: {And: {Prefix: `auditforge/engagements/${engagementId}/findings.json`}}},
      ],
    })
    expect(await row('lifecycle')).toMatchObject({status: 'pass', actual: '3 auditforge rules and 1 other'})
  })

  it('--fix puts the rules back rule by rule, keeping the others', async () => {
    compliantBucket({rules: [foreignRule, archiveRule(30)]})
    await repairBucketControls(testContext(), bucket)
    expect(sentRules()).toEqual([foreignRule, abortRule, markersRule, archiveRule()])
  })
})

describe('creating a bucket', () => {
  it('applies the new controls after versioning and before the tags', async () => {
    noTombstones()
    s3Mock
      .on(HeadBucketCommand)
      .rejectsOnce(new NotFound({$metadata: {httpStatusCode: 404}, message: 'Not Found'}))
      .resolves({})
    s3Mock.on(CreateBucketCommand).resolves({})
    s3Mock.on(GetBucketTaggingCommand).rejects(s3Error('NoSuchTagSet', 404))
    s3Mock.on(ListObjectVersionsCommand).resolves({})
    s3Mock.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucketPolicy', 404))
    s3Mock.on(GetBucketLifecycleConfigurationCommand).rejects(s3Error('NoSuchLifecycleConfiguration', 404))
    await provisionEngagementBucket(testContext(), engagementId)
    const puts = s3Mock
      .calls()
      .map((call) => (call.args[0] as object).constructor.name)
      .filter((name) => name.startsWith('Put'))
    expect(puts).toEqual([
      'PutPublicAccessBlockCommand',
      'PutBucketOwnershipControlsCommand',
      'PutBucketEncryptionCommand',
      'PutBucketVersioningCommand',
      'PutBucketPolicyCommand',
      'PutBucketLifecycleConfigurationCommand',
      'PutBucketTaggingCommand',
    ])
  })
})

describe('least-privilege', () => {
  const task = 'arn:aws:iam::123456789012:role/platform-task'
  const caller = 'arn:aws:iam::123456789012:user/test'
  const lpStatement = (principals: string[]) => leastPrivilegeStatementFor(bucket, principals)

  it('is merged with the TLS-only statement into one policy document, in one write, keeping statements of others', async () => {
    compliantBucket({statements: [foreignStatement]})
    await provisionEngagementBucket(testContext({'allow-principal': [task, caller]}), engagementId)
    expect(s3Mock).toHaveReceivedCommandTimes(PutBucketPolicyCommand, 1)
    expect(sentPolicy()).toEqual({
      Version: '2012-10-17',
      Statement: [foreignStatement, tlsStatement, lpStatement([task, caller])],
    })
  })

  it('refuses (exit 2) a list that would lock out the caller, before anything is created or written', async () => {
    s3Mock.on(HeadBucketCommand).rejects(new NotFound({$metadata: {httpStatusCode: 404}, message: 'Not Found'}))
    await expect(
      provisionEngagementBucket(testContext({'allow-principal': [task]}), engagementId),
    ).rejects.toMatchObject({
      exit: 2,
      message: expect.stringContaining(`the caller ${caller} is not among ${task}`),
    })
    expect(s3Mock).not.toHaveReceivedAnyCommand()

    // AUDITFORGE_ALLOWED_PRINCIPALS (comma-separated) is checked the same way, and --fix refuses too.
    compliantBucket({statements: [tlsStatement]})
    await expect(
      repairBucketControls(testContext({}, {AUDITFORGE_ALLOWED_PRINCIPALS: task}), bucket),
    ).rejects.toMatchObject({exit: 2})
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand)
  })

  it('on a plain-http endpoint writes its own statement alone, leaving a TLS-only statement that is there', async () => {
    compliantBucket({statements: [tlsStatement, foreignStatement]})
    const result = await provisionEngagementBucket(
      testContext({'allow-principal': ['arn:aws:iam::123456789012:user/*']}, plainHttp),
      engagementId,
    )
    expect(result.skipped.map((skip) => skip.control)).toEqual(['tls-only'])
    expect(sentPolicy().Statement).toEqual([
      tlsStatement,
      foreignStatement,
      lpStatement(['arn:aws:iam::123456789012:user/*']),
    ])
  })

  it('verify: skipped when not configured; passes the same list in any order; reports a changed list; --fix rewrites it', async () => {
    compliantBucket({statements: [tlsStatement]})
    expect(await row('least-privilege')).toMatchObject({
      status: 'skipped',
      ok: true,
      actual: 'skipped: not configured (--allow-principal)',
    })
    compliantBucket({statements: [tlsStatement, lpStatement([caller, task])]})
    const context = testContext({'allow-principal': [task, caller]})
    expect(await row('least-privilege', context)).toMatchObject({status: 'pass', actual: `only ${caller}, ${task}`})

    compliantBucket({statements: [tlsStatement, lpStatement([caller, 'arn:aws:iam::999999999999:root'])]})
    expect(await row('least-privilege', context)).toMatchObject({
      status: 'fail',
      actual: `statement changed: allows ${caller}, arn:aws:iam::999999999999:root`,
    })
    await repairBucketControls(context, bucket)
    expect(sentPolicy().Statement).toEqual([tlsStatement, lpStatement([task, caller])])
  })
})

describe('least-privilege left from an earlier --allow-principal', () => {
  const retired = 'arn:aws:iam::123456789012:role/retired-task'
  const stale = {
    ...tlsStatement,
    Sid: 'AuditforgeDenyOtherPrincipals',
    Condition: {ArnNotLike: {'aws:PrincipalArn': [retired]}},
  }

  it('is drift when the option is not set (never a silent pass), and --fix keeps it: dropping the option must not widen access', async () => {
    compliantBucket({statements: [tlsStatement, stale]})
    const check = await checkBucketControls(testContext(), bucket)
    expect(check.ok).toBe(false)
    expect(check.controls.find((c) => c.control === 'least-privilege')).toMatchObject({
      status: 'fail',
      ok: false,
      actual: expect.stringContaining(`not configured but present: allows only ${retired}`),
    })
    const fixed = await repairBucketControls(testContext(), bucket)
    expect(fixed.controls.find((c) => c.control === 'least-privilege')).toMatchObject({status: 'fail'})
    expect(s3Mock).not.toHaveReceivedCommand(PutBucketPolicyCommand)
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketPolicyCommand)
  })

  it('setting the option to a new list replaces it', async () => {
    compliantBucket({statements: [tlsStatement, stale]})
    await repairBucketControls(testContext({'allow-principal': ['arn:aws:iam::123456789012:user/test']}), bucket)
    expect(sentPolicy().Statement).toEqual([
      tlsStatement,
      {...stale, Condition: {ArnNotLike: {'aws:PrincipalArn': ['arn:aws:iam::123456789012:user/test']}}},
    ])
  })
})

describe('principals', () => {
  const iamMock = mockClient(IAMClient)
  const ssoRole = 'AWSReservedSSO_AdminAccess_0123456789abcdef'
  const ssoSession = `arn:aws:sts::123456789012:assumed-role/${ssoRole}/alice@example.com`
  const ssoRoleArn = `arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/${ssoRole}`
  const asCaller = (arn: string, flags: Parameters<typeof testContext>[0] = {}) => ({
    ...testContext(flags),
    callerArn: async () => arn,
  })
  beforeEach(() => iamMock.reset())

  it('matches as ArnLike does: each part on its own, * and ? wildcards, the path part of the ARN', () => {
    const role = 'arn:aws:iam::123456789012:role/platform-task'
    expect(principalMatches('arn:aws:iam::123456789012:role/platform-task', role)).toBe(true)
    expect(principalMatches('arn:aws:iam::123456789012:role/platform-*', role)).toBe(true)
    expect(principalMatches('arn:aws:iam::*:role/platform-task', role)).toBe(true)
    expect(principalMatches('arn:aws:iam::123456789012:role/platform-tasks', role)).toBe(false)
    expect(principalMatches('arn:aws:iam::999999999999:role/platform-task', role)).toBe(false)
    expect(principalMatches('arn:aws:iam::123456789012:user/platform-task', role)).toBe(false)
    // aws:PrincipalArn carries the role's path: a pattern without it does not match.
    expect(principalMatches(`arn:aws:iam::123456789012:role/${ssoRole}`, ssoRoleArn)).toBe(false)
    expect(principalMatches(`arn:aws:iam::123456789012:role/*${ssoRole}`, ssoRoleArn)).toBe(true)
  })

  it('a role session is its role as iam:GetRole gives it, path included: an SSO role allowed without its path is refused', async () => {
    iamMock.on(GetRoleCommand, {RoleName: ssoRole}).resolves({
      Role: {
        Arn: ssoRoleArn,
        RoleName: ssoRole,
        Path: '/aws-reserved/sso.amazonaws.com/eu-west-1/',
        RoleId: 'AROA',
        CreateDate: new Date(),
      },
    })
    expect(await callerPrincipal(asCaller(ssoSession))).toEqual({arn: ssoRoleArn})
    await expect(
      assertAllowsCaller(asCaller(ssoSession, {'allow-principal': [`arn:aws:iam::123456789012:role/${ssoRole}`]})),
    ).rejects.toMatchObject({
      exit: 2,
      message: expect.stringContaining(`the caller ${ssoRoleArn} is not among`),
    })
    await expect(assertAllowsCaller(asCaller(ssoSession, {'allow-principal': [ssoRoleArn]}))).resolves.toBeUndefined()
    // A user is its own ARN; IAM is not asked.
    expect(await callerPrincipal(asCaller('arn:aws:iam::123456789012:user/alice'))).toEqual({
      arn: 'arn:aws:iam::123456789012:user/alice',
    })
    expect(iamMock).toHaveReceivedCommandTimes(GetRoleCommand, 3)
  })

  it('when iam:GetRole is denied, only a pattern that allows the role whatever its path passes', async () => {
    iamMock
      .on(GetRoleCommand)
      .rejects(Object.assign(new Error('denied'), {name: 'AccessDenied', $metadata: {httpStatusCode: 403}}))
    const pathless = `arn:aws:iam::123456789012:role/${ssoRole}`
    for (const pattern of [pathless, ssoRoleArn]) {
      await expect(assertAllowsCaller(asCaller(ssoSession, {'allow-principal': [pattern]}))).rejects.toMatchObject({
        exit: 2,
        message: expect.stringContaining(
          `the path of your role ${ssoRole} could not be read (iam:GetRole failed: AccessDenied)`,
        ),
        suggestion: expect.stringContaining(`--allow-principal 'arn:aws:iam::123456789012:role/*${ssoRole}'`),
      })
    }
    for (const pattern of [`arn:aws:iam::123456789012:role/*${ssoRole}`, 'arn:aws:iam::123456789012:role/*']) {
      await expect(assertAllowsCaller(asCaller(ssoSession, {'allow-principal': [pattern]}))).resolves.toBeUndefined()
    }
  })
})
