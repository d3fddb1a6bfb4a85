/**
 * The controls table on moto, through the built CLI: each control applied and read back with
 * the aws CLI, drifted with the aws CLI, reported by `bucket verify` (exit 4) and repaired by
 * `--fix`, with rules and statements of others kept. The TLS-only policy is shown skipped on
 * the plain-http moto and proven on a second moto serving https.
 */
import {randomUUID} from 'node:crypto'

import {CreateRoleCommand, IAMClient} from '@aws-sdk/client-iam'
import {AssumeRoleCommand, STSClient} from '@aws-sdk/client-sts'
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {awsS3api, expectedBucketName, putIndex, randomEngagementId, seedRecord} from '../helpers/commands.js'
import {type HttpsMoto, startHttpsMoto} from '../helpers/https-moto.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

interface ControlRow {
  control: string
  status: 'pass' | 'fail' | 'skipped'
  ok: boolean | null
  actual: string
  standards: {fsbp?: string[]; cis?: string[]; prowler?: string[]}
  standard_ids: string[] | null
}
interface VerifyOutput {
  ok: boolean
  standard: string | null
  buckets: {bucket: string; ok: boolean; controls: ControlRow[]}[]
}

const keyArn = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'
const foreignRule = {ID: 'platform-expire-tmp', Status: 'Enabled', Filter: {Prefix: 'tmp/'}, Expiration: {Days: 1}}

/** A shared bucket whose index knows the engagement, and the engagement's bucket provisioned in it. */
async function provisioned(args: string[] = [], env: Record<string, string> = {}) {
  const s3 = testS3()
  const shared = await createSharedBucket(s3)
  const id = randomEngagementId()
  await putIndex(s3, shared, {engagements: [seedRecord(id)]})
  const environment = {AUDITFORGE_BUCKET: shared, ...env}
  const result = await runJson<{bucket: string; skipped: {control: string; reason: string}[]}>(
    ['bucket', 'provision', id, ...args],
    {env: environment},
  )
  expect(result.code, result.stderr).toBe(0)
  return {s3, shared, id, bucket: result.json.bucket, env: environment, provision: result}
}

const rowOf = (output: VerifyOutput, control: string) =>
  output.buckets[0].controls.find((row) => row.control === control)!
const ruleIds = (json: {Rules: {ID: string}[]}) => json.Rules.map((rule) => rule.ID).sort()

describe('lifecycle', () => {
  it('is applied and read back, drifted with the aws CLI (exit 4), and --fix restores it keeping a rule of others', async () => {
    const {bucket, id, env} = await provisioned()
    const applied = await awsS3api(['get-bucket-lifecycle-configuration', '--bucket', bucket])
    expect(ruleIds(applied.json)).toEqual([
      'auditforge-abort-incomplete-multipart-uploads',
      'auditforge-archive-findings',
      'auditforge-expired-delete-markers',
    ])
    const rules = Object.fromEntries(applied.json.Rules.map((rule: {ID: string}) => [rule.ID, rule]))
    expect(rules['auditforge-abort-incomplete-multipart-uploads'].AbortIncompleteMultipartUpload).toEqual({
      DaysAfterInitiation: 7,
    })
    expect(rules['auditforge-expired-delete-markers'].Expiration).toEqual({ExpiredObjectDeleteMarker: true})
    expect(rules['auditforge-archive-findings'].Transitions).toEqual([{Days: 90, StorageClass: 'DEEP_ARCHIVE'}])
    expect(JSON.stringify(rules['auditforge-archive-findings'].Filter)).toContain(
      `auditforge/engagements/${id}/findings.json`,
    )

    // Someone replaces the whole configuration with a rule of their own.
    const replaced = await awsS3api([
      'put-bucket-lifecycle-configuration',
      '--bucket',
      bucket,
      '--lifecycle-configuration',
      JSON.stringify({Rules: [foreignRule]}),
    ])
    expect(replaced.code, replaced.stderr).toBe(0)
    const drifted = await runJson<VerifyOutput>(['bucket', 'verify', bucket], {env})
    expect(drifted.code).toBe(4)
    expect(rowOf(drifted.json, 'lifecycle')).toMatchObject({
      status: 'fail',
      ok: false,
      actual: expect.stringContaining('missing auditforge-abort-incomplete-multipart-uploads'),
    })

    const fixed = await runJson<VerifyOutput>(['bucket', 'verify', bucket, '--fix'], {env})
    expect(fixed.code, fixed.stderr).toBe(0)
    expect(rowOf(fixed.json, 'lifecycle')).toMatchObject({status: 'pass', actual: '3 auditforge rules and 1 other'})
    const after = await awsS3api(['get-bucket-lifecycle-configuration', '--bucket', bucket])
    expect(ruleIds(after.json)).toEqual([
      'auditforge-abort-incomplete-multipart-uploads',
      'auditforge-archive-findings',
      'auditforge-expired-delete-markers',
      'platform-expire-tmp',
    ])
    expect(after.json.Rules.find((rule: {ID: string}) => rule.ID === 'platform-expire-tmp')).toMatchObject({
      Filter: {Prefix: 'tmp/'},
      Expiration: {Days: 1},
    })
  })

  it('follows the settings: archive off and noncurrent expiry by flag; verify checks against the same settings from the environment', async () => {
    const {bucket, env} = await provisioned(['--archive-findings-after-days', '0', '--noncurrent-days', '365'])
    const applied = await awsS3api(['get-bucket-lifecycle-configuration', '--bucket', bucket])
    expect(ruleIds(applied.json)).toEqual([
      'auditforge-abort-incomplete-multipart-uploads',
      'auditforge-expire-noncurrent-versions',
      'auditforge-expired-delete-markers',
    ])
    expect(
      applied.json.Rules.find((rule: {ID: string}) => rule.ID === 'auditforge-expire-noncurrent-versions')
        .NoncurrentVersionExpiration,
    ).toEqual({NoncurrentDays: 365})

    const same = await runJson<VerifyOutput>(['bucket', 'verify', bucket], {
      env: {...env, AUDITFORGE_ARCHIVE_FINDINGS_AFTER_DAYS: '0', AUDITFORGE_NONCURRENT_DAYS: '365'},
    })
    expect(same.code, same.stderr).toBe(0)
    // Against the defaults the bucket has drifted both ways.
    const defaults = await runJson<VerifyOutput>(['bucket', 'verify', bucket], {env})
    expect(defaults.code).toBe(4)
    expect(rowOf(defaults.json, 'lifecycle').actual).toBe(
      'missing auditforge-archive-findings; not configured but present auditforge-expire-noncurrent-versions',
    )
  })

  it('an invalid setting is exit 2 before any call', async () => {
    const id = randomEngagementId()
    const [flag, env] = await Promise.all([
      runCli(['bucket', 'provision', id, '--noncurrent-days', '0', '--shared-bucket', 'any-bucket']),
      runCli(['bucket', 'provision', id, '--shared-bucket', 'any-bucket'], {
        env: {AUDITFORGE_ARCHIVE_FINDINGS_AFTER_DAYS: 'soon'},
      }),
    ])
    expect(flag.code).toBe(2)
    expect(env.code).toBe(2)
    expect(env.stderr).toContain('AUDITFORGE_ARCHIVE_FINDINGS_AFTER_DAYS')
  })
})

describe('encryption', () => {
  it('--kms-key-id gives SSE-KMS with a bucket key; a downgrade with the aws CLI is drift; --fix restores it; provisioning without the key keeps it', async () => {
    const {bucket, id, env} = await provisioned(['--kms-key-id', keyArn])
    const read = async () =>
      (await awsS3api(['get-bucket-encryption', '--bucket', bucket])).json.ServerSideEncryptionConfiguration.Rules[0]
    expect(await read()).toEqual({
      ApplyServerSideEncryptionByDefault: {SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn},
      BucketKeyEnabled: true,
    })

    // Provisioning again without --kms-key-id must not downgrade it to AES256.
    const again = await runCli(['bucket', 'provision', id], {env})
    expect(again.code, again.stderr).toBe(0)
    expect((await read()).ApplyServerSideEncryptionByDefault.SSEAlgorithm).toBe('aws:kms')

    const downgraded = await awsS3api([
      'put-bucket-encryption',
      '--bucket',
      bucket,
      '--server-side-encryption-configuration',
      JSON.stringify({Rules: [{ApplyServerSideEncryptionByDefault: {SSEAlgorithm: 'AES256'}}]}),
    ])
    expect(downgraded.code, downgraded.stderr).toBe(0)
    const withKey = {...env, AUDITFORGE_KMS_KEY_ID: keyArn}
    const drifted = await runJson<VerifyOutput>(['bucket', 'verify', bucket], {env: withKey})
    expect(drifted.code).toBe(4)
    expect(rowOf(drifted.json, 'encryption')).toMatchObject({status: 'fail', actual: 'AES256'})
    const fixed = await runJson<VerifyOutput>(['bucket', 'verify', bucket, '--fix'], {env: withKey})
    expect(fixed.code, fixed.stderr).toBe(0)
    expect(await read()).toEqual({
      ApplyServerSideEncryptionByDefault: {SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn},
      BucketKeyEnabled: true,
    })
  })

  it('without a key a bucket gets AES256; removing default encryption is drift and --fix puts AES256 back', async () => {
    const {bucket, env} = await provisioned()
    expect(
      (await awsS3api(['get-bucket-encryption', '--bucket', bucket])).json.ServerSideEncryptionConfiguration.Rules[0]
        .ApplyServerSideEncryptionByDefault,
    ).toEqual({SSEAlgorithm: 'AES256'})
    expect((await awsS3api(['delete-bucket-encryption', '--bucket', bucket])).code).toBe(0)
    const drifted = await runJson<VerifyOutput>(['bucket', 'verify', bucket], {env})
    expect(drifted.code).toBe(4)
    expect(rowOf(drifted.json, 'encryption')).toMatchObject({status: 'fail', actual: 'none'})
    expect((await runJson<VerifyOutput>(['bucket', 'verify', bucket, '--fix'], {env})).code).toBe(0)
    expect(
      (await awsS3api(['get-bucket-encryption', '--bucket', bucket])).json.ServerSideEncryptionConfiguration.Rules[0]
        .ApplyServerSideEncryptionByDefault,
    ).toEqual({SSEAlgorithm: 'AES256'})
  })
})

describe('tls-only on a plain-http endpoint', () => {
  it('is skipped with a warning on provision and engagement create, and verify shows it skipped, never passed', async () => {
    const {bucket, env, provision} = await provisioned()
    expect(provision.json.skipped).toEqual([{control: 'tls-only', reason: expect.stringContaining('plain-http')}])
    expect(provision.stderr).toMatch(/Warning: tls-only was not applied: plain-http endpoint/)
    expect((await awsS3api(['get-bucket-policy', '--bucket', bucket])).stderr).toMatch(/NoSuchBucketPolicy/)

    const created = await runJson<{source_bucket: string}>(
      ['engagement', 'create', '--name', 'TLS skip', '--isolated'],
      {env},
    )
    expect(created.code, created.stderr).toBe(0)
    expect(created.stderr).toContain(`tls-only was not applied to ${created.json.source_bucket}`)

    const table = await runCli(['bucket', 'verify', bucket], {env})
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/tls-only\s+skipped\s+plain-http endpoint/)
    expect(table.stdout).not.toMatch(/tls-only\s+pass/)
    const json = await runJson<VerifyOutput>(['bucket', 'verify', bucket], {env})
    expect(rowOf(json.json, 'tls-only')).toMatchObject({status: 'skipped', actual: expect.stringMatching(/^skipped: /)})
  })
})

describe('least-privilege', () => {
  const caller = 'arn:aws:sts::123456789012:user/moto'
  const task = 'arn:aws:iam::123456789012:role/platform-task'

  it('is applied and read back, drifted with the aws CLI (exit 4), and --fix restores it keeping a statement of others', async () => {
    const {bucket, env} = await provisioned(['--allow-principal', caller, '--allow-principal', task])
    const policy = async () => JSON.parse((await awsS3api(['get-bucket-policy', '--bucket', bucket])).json.Policy)
    const ours = {
      Sid: 'AuditforgeDenyOtherPrincipals',
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:*',
      Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
      Condition: {ArnNotLike: {'aws:PrincipalArn': [caller, task]}},
    }
    expect((await policy()).Statement).toEqual([ours])

    const allowed = {...env, AUDITFORGE_ALLOWED_PRINCIPALS: `${caller},${task}`}
    const verified = await runJson<VerifyOutput>(['bucket', 'verify', bucket], {env: allowed})
    expect(verified.code, verified.stderr).toBe(0)
    expect(rowOf(verified.json, 'least-privilege')).toMatchObject({status: 'pass', actual: `only ${caller}, ${task}`})
    // Without the setting, the statement still on the bucket is drift, never a silent pass; --fix keeps it.
    const unset = await runJson<VerifyOutput>(['bucket', 'verify', bucket, '--fix'], {env})
    expect(unset.code).toBe(4)
    expect(rowOf(unset.json, 'least-privilege')).toMatchObject({
      status: 'fail',
      actual: expect.stringContaining(`not configured but present: allows only ${caller}, ${task}`),
    })
    expect((await policy()).Statement).toEqual([ours])

    const theirs = {
      Sid: 'AuditReadOnly',
      Effect: 'Allow',
      Principal: {AWS: 'arn:aws:iam::123456789012:role/auditor'},
      Action: 's3:GetObject',
      Resource: `arn:aws:s3:::${bucket}/*`,
    }
    const replaced = await awsS3api([
      'put-bucket-policy',
      '--bucket',
      bucket,
      '--policy',
      JSON.stringify({Version: '2012-10-17', Statement: [theirs]}),
    ])
    expect(replaced.code, replaced.stderr).toBe(0)
    const drifted = await runJson<VerifyOutput>(['bucket', 'verify', bucket], {env: allowed})
    expect(drifted.code).toBe(4)
    expect(rowOf(drifted.json, 'least-privilege')).toMatchObject({status: 'fail', actual: 'no such statement'})
    const fixed = await runJson<VerifyOutput>(['bucket', 'verify', bucket, '--fix'], {env: allowed})
    expect(fixed.code, fixed.stderr).toBe(0)
    expect((await policy()).Statement).toEqual([theirs, ours])
  })

  it("reads the path of the caller's role (an SSO role under /aws-reserved/): its path-less ARN is refused, its full ARN written", async () => {
    // A role with a path, assumed on moto: the session ARN drops the path, aws:PrincipalArn keeps it.
    const name = `AWSReservedSSO_Admin_${randomUUID().slice(0, 8)}`
    const roleArn = `arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/${name}`
    const endpoint = inject('motoEndpoint')
    const credentials = {accessKeyId: 'testing', secretAccessKey: 'testing'}
    const iam = new IAMClient({region: 'us-east-1', endpoint, credentials})
    const sts = new STSClient({region: 'us-east-1', endpoint, credentials})
    await iam.send(
      new CreateRoleCommand({
        RoleName: name,
        Path: '/aws-reserved/sso.amazonaws.com/eu-west-1/',
        AssumeRolePolicyDocument: '{"Version":"2012-10-17","Statement":[]}',
      }),
    )
    const session = (await sts.send(new AssumeRoleCommand({RoleArn: roleArn, RoleSessionName: 'alice'}))).Credentials!
    iam.destroy()
    sts.destroy()
    const asAlice = {
      AWS_ACCESS_KEY_ID: session.AccessKeyId!,
      AWS_SECRET_ACCESS_KEY: session.SecretAccessKey!,
      AWS_SESSION_TOKEN: session.SessionToken!,
    }

    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    const env = {...asAlice, AUDITFORGE_BUCKET: shared}
    const pathless = await runCli(
      ['bucket', 'provision', id, '--allow-principal', `arn:aws:iam::123456789012:role/${name}`],
      {env},
    )
    expect(pathless.code).toBe(2)
    expect(pathless.stderr).toContain(`would lock you out: the caller ${roleArn} is not among`)
    expect((await awsS3api(['head-bucket', '--bucket', expectedBucketName(id)])).code).not.toBe(0)

    const full = await runJson<{bucket: string}>(['bucket', 'provision', id, '--allow-principal', roleArn], {env})
    expect(full.code, full.stderr).toBe(0)
    const policy = JSON.parse((await awsS3api(['get-bucket-policy', '--bucket', full.json.bucket])).json.Policy)
    expect(policy.Statement).toContainEqual(
      expect.objectContaining({
        Sid: 'AuditforgeDenyOtherPrincipals',
        Condition: {ArnNotLike: {'aws:PrincipalArn': [roleArn]}},
      }),
    )
  })

  it('refuses (exit 2) a list that would lock out the caller: no bucket is created', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    const result = await runCli(['bucket', 'provision', id, '--allow-principal', task, '--shared-bucket', shared])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(`would lock you out: the caller ${caller} is not among ${task}`)
    expect(result.stdout).toBe('')
    expect((await awsS3api(['head-bucket', '--bucket', expectedBucketName(id)])).code).not.toBe(0)
  })
})

describe('bucket verify --standard and --all', () => {
  it('labels each row with the standard ids, in the table and in --json', async () => {
    const {bucket, env} = await provisioned()
    const table = await runCli(['bucket', 'verify', bucket, '--standard', 'fsbp'], {env})
    expect(table.code, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/FSBP\s+Control\s+Result\s+Found/)
    expect(table.stdout).toMatch(/S3\.8\s+public-access-block\s+pass/)
    expect(table.stdout).toMatch(/S3\.5\s+tls-only\s+skipped/)
    expect(table.stdout).toMatch(/S3\.13, S3\.10\s+lifecycle\s+pass/)
    expect(table.stdout).toMatch(/—\s+tags\s+pass/)

    const cis = await runJson<VerifyOutput>(['bucket', 'verify', bucket, '--standard', 'cis'], {env})
    expect(cis.json.standard).toBe('cis')
    expect(rowOf(cis.json, 'public-access-block')).toMatchObject({
      standard_ids: ['2.1.4'],
      standards: {fsbp: ['S3.8'], cis: ['2.1.4']},
    })
    expect(rowOf(cis.json, 'versioning').standard_ids).toEqual([])
    const prowler = await runJson<VerifyOutput>(['bucket', 'verify', bucket, '--standard', 'prowler'], {env})
    expect(rowOf(prowler.json, 'lifecycle').standard_ids).toEqual(['s3_bucket_lifecycle_enabled'])
    const plain = await runJson<VerifyOutput>(['bucket', 'verify', bucket], {env})
    expect(plain.json.standard).toBeNull()
    expect(rowOf(plain.json, 'lifecycle').standard_ids).toBeNull()

    const unknown = await runCli(['bucket', 'verify', bucket, '--standard', 'pci'], {env})
    expect(unknown.code).toBe(2)
  })

  it('--all also covers a managed bucket bound to this index that no record points at', async () => {
    const {s3, shared, bucket, env} = await provisioned()
    // An engagement whose record points at its bucket, beside the one bound but not pointed at.
    const pointedId = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(pointedId)]})
    expect((await runCli(['bucket', 'provision', pointedId], {env})).code).toBe(0)
    await putIndex(s3, shared, {engagements: [seedRecord(pointedId, {source_bucket: expectedBucketName(pointedId)})]})

    const all = await runJson<VerifyOutput>(['bucket', 'verify', '--all'], {env})
    expect(all.code, all.stderr).toBe(0)
    expect(all.json.buckets.map((check) => check.bucket).sort()).toEqual([bucket, expectedBucketName(pointedId)].sort())
  })
})

describe('tls-only on an https endpoint', () => {
  let https: HttpsMoto
  beforeAll(async () => {
    https = await startHttpsMoto()
  })
  afterAll(async () => {
    await https?.stop()
  })

  it('is applied and read back, drifted with the aws CLI (exit 4), and --fix restores it keeping a statement of others', async () => {
    const shared = await createSharedBucket(https.s3)
    const id = randomEngagementId()
    await putIndex(https.s3, shared, {engagements: [seedRecord(id)]})
    const env = {...https.env, AUDITFORGE_BUCKET: shared}
    const provision = await runJson<{bucket: string; skipped: unknown[]}>(['bucket', 'provision', id], {env})
    expect(provision.code, provision.stderr).toBe(0)
    expect(provision.json.skipped).toEqual([])
    const bucket = provision.json.bucket
    const resources = [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`]
    const tls = {
      Sid: 'AuditforgeDenyInsecureTransport',
      Effect: 'Deny',
      Principal: '*',
      Action: 's3:*',
      Resource: resources,
      Condition: {Bool: {'aws:SecureTransport': 'false'}},
    }
    const policy = async () => JSON.parse((await https.aws(['get-bucket-policy', '--bucket', bucket])).json.Policy)
    expect((await policy()).Statement).toEqual([tls])

    const verified = await runJson<VerifyOutput>(['bucket', 'verify', bucket], {env})
    expect(verified.code, verified.stderr).toBe(0)
    expect(rowOf(verified.json, 'tls-only')).toMatchObject({
      status: 'pass',
      actual: 'statement AuditforgeDenyInsecureTransport',
    })

    // Someone replaces the policy with one of their own.
    const theirs = {
      Sid: 'AuditReadOnly',
      Effect: 'Allow',
      Principal: {AWS: 'arn:aws:iam::123456789012:role/auditor'},
      Action: 's3:GetObject',
      Resource: resources[1],
    }
    const replaced = await https.aws([
      'put-bucket-policy',
      '--bucket',
      bucket,
      '--policy',
      JSON.stringify({Version: '2012-10-17', Statement: [theirs]}),
    ])
    expect(replaced.code, replaced.stderr).toBe(0)
    const drifted = await runJson<VerifyOutput>(['bucket', 'verify', bucket], {env})
    expect(drifted.code).toBe(4)
    expect(rowOf(drifted.json, 'tls-only')).toMatchObject({status: 'fail', actual: 'no such statement'})

    const fixed = await runJson<VerifyOutput>(['bucket', 'verify', bucket, '--fix'], {env})
    expect(fixed.code, fixed.stderr).toBe(0)
    expect((await policy()).Statement).toEqual([theirs, tls])
  })

  it('with --allow-principal, writes the TLS-only and least-privilege statements into one document', async () => {
    const shared = await createSharedBucket(https.s3)
    const id = randomEngagementId()
    await putIndex(https.s3, shared, {engagements: [seedRecord(id)]})
    const caller = 'arn:aws:sts::123456789012:user/moto'
    const env = {...https.env, AUDITFORGE_BUCKET: shared, AUDITFORGE_ALLOWED_PRINCIPALS: caller}
    const provision = await runJson<{bucket: string}>(['bucket', 'provision', id], {env})
    expect(provision.code, provision.stderr).toBe(0)
    const bucket = provision.json.bucket
    const statements = JSON.parse((await https.aws(['get-bucket-policy', '--bucket', bucket])).json.Policy).Statement
    expect(statements.map((statement: {Sid: string}) => statement.Sid)).toEqual([
      'AuditforgeDenyInsecureTransport',
      'AuditforgeDenyOtherPrincipals',
    ])
    expect(statements[1].Condition).toEqual({ArnNotLike: {'aws:PrincipalArn': [caller]}})
    const verified = await runJson<VerifyOutput>(['bucket', 'verify', bucket], {env})
    expect(verified.code, verified.stderr).toBe(0)
    expect(verified.json.buckets[0].controls.filter((row) => row.status === 'fail')).toEqual([])
    expect(rowOf(verified.json, 'tls-only').status).toBe('pass')
    expect(rowOf(verified.json, 'least-privilege').status).toBe('pass')
  })
})
