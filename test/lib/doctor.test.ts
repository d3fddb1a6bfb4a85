import {
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import {GetServiceQuotaCommand, ServiceQuotasClient} from '@aws-sdk/client-service-quotas'
import {mockClient} from 'aws-sdk-client-mock'
import {beforeEach, describe, expect, it} from 'vitest'

import {runDoctor} from '../../src/lib/doctor.js'
import {accountId, s3Error, sharedBucket, streamBody, testContext} from './fixtures.js'

const s3Mock = mockClient(S3Client)
const quotasMock = mockClient(ServiceQuotasClient)

const status = (checks: {check: string; status: string}[], name: string) =>
  checks.find((check) => check.check === name)?.status

function healthy(buckets: string[] = []) {
  s3Mock.on(HeadBucketCommand).resolves({})
  s3Mock.on(GetBucketVersioningCommand).resolves({Status: 'Enabled'})
  s3Mock.on(GetObjectCommand).callsFake(() => ({Body: streamBody(JSON.stringify({engagements: []})), ETag: '"e"'}))
  // The probe: created once, then both conditional overwrites refused.
  s3Mock.on(PutObjectCommand).resolvesOnce({}).rejects(s3Error('PreconditionFailed', 412))
  s3Mock.on(ListObjectVersionsCommand).resolves({Versions: [], IsTruncated: false})
  s3Mock.on(ListBucketsCommand).resolves({Buckets: buckets.map((Name) => ({Name}))})
  s3Mock.on(GetBucketTaggingCommand).resolves({TagSet: [{Key: 'auditforge:managed-by', Value: 'auditforge'}]})
}

beforeEach(() => {
  s3Mock.reset()
  quotasMock.reset()
  quotasMock.on(GetServiceQuotaCommand).rejects(s3Error('AccessDeniedException', 403))
})

describe('runDoctor', () => {
  it('passes a healthy setup and falls back to the default quota with a note', async () => {
    healthy()
    const checks = await runDoctor(testContext(), sharedBucket)
    expect(checks.map((check) => check.status)).toEqual(['pass', 'pass', 'pass', 'pass', 'pass', 'pass', 'pass'])
    expect(checks.find((check) => check.check === 'bucket controls')!.detail).toMatch(/no per-engagement buckets/)
    expect(checks.at(-1)!.detail).toMatch(/0 of 10000 buckets.*S3 default/)
  })

  it('fails when the endpoint ignores conditional writes', async () => {
    healthy()
    s3Mock.on(PutObjectCommand).resolves({})
    const checks = await runDoctor(testContext(), sharedBucket)
    expect(status(checks, 'conditional writes')).toBe('fail')
    expect(checks.find((check) => check.check === 'conditional writes')!.detail).toMatch(
      /ignores If-None-Match and If-Match/,
    )
  })

  it('reads the quota from Service Quotas and warns past 80%', async () => {
    healthy(Array.from({length: 90}, (_, n) => `other-bucket-${n}`))
    quotasMock.on(GetServiceQuotaCommand).resolves({Quota: {Value: 100}})
    const checks = await runDoctor(testContext(), sharedBucket)
    expect(status(checks, 'bucket quota')).toBe('warn')
    expect(checks.at(-1)!.detail).toMatch(/90 of 100 buckets.*Service Quotas/)
    expect(quotasMock.commandCalls(GetServiceQuotaCommand)[0].args[0].input).toEqual({
      ServiceCode: 's3',
      QuotaCode: 'L-DC2B2D3D',
    })
  })

  it('warns on a managed bucket no record points at, and fails on a record whose bucket is gone', async () => {
    const orphan = `metis-af-aaaaaaaaaaaa-${accountId}`
    healthy([orphan])
    expect(status(await runDoctor(testContext(), sharedBucket), 'engagement buckets')).toBe('warn')

    s3Mock.on(GetObjectCommand).callsFake(() => ({
      Body: streamBody(
        JSON.stringify({
          engagements: [{engagement_id: 'eng-bbbbbbbbbbbb', source_bucket: `metis-af-bbbbbbbbbbbb-${accountId}`}],
        }),
      ),
      ETag: '"e"',
    }))
    const checks = await runDoctor(testContext(), sharedBucket)
    expect(status(checks, 'engagement buckets')).toBe('fail')
    expect(checks.find((check) => check.check === 'engagement buckets')!.detail).toContain('eng-bbbbbbbbbbbb')
  })

  it('tells buckets of other environments (bound to another index) from orphans, and fails a record pointing at one', async () => {
    const [mine, theirs, unboundPointed] = ['aaaaaaaaaaaa', 'cccccccccccc', 'dddddddddddd'].map(
      (id) => `metis-af-${id}-${accountId}`,
    )
    healthy([mine, theirs, unboundPointed])
    const bound = (index?: string) => ({
      TagSet: [
        {Key: 'auditforge:managed-by', Value: 'auditforge'},
        ...(index ? [{Key: 'auditforge:index', Value: index}] : []),
      ],
    })
    s3Mock.on(GetBucketTaggingCommand, {Bucket: mine}).resolves(bound(sharedBucket))
    s3Mock.on(GetBucketTaggingCommand, {Bucket: theirs}).resolves(bound('staging-shared'))
    s3Mock.on(GetBucketTaggingCommand, {Bucket: unboundPointed}).resolves(bound())
    const index = (records: unknown[]) =>
      s3Mock
        .on(GetObjectCommand)
        .callsFake(() => ({Body: streamBody(JSON.stringify({engagements: records})), ETag: '"e"'}))

    index([
      {engagement_id: 'eng-aaaaaaaaaaaa', source_bucket: mine},
      {engagement_id: 'eng-dddddddddddd', source_bucket: unboundPointed},
    ])
    let found = (await runDoctor(testContext(), sharedBucket)).find((check) => check.check === 'engagement buckets')!
    expect(found.status).toBe('warn')
    expect(found.detail).toContain(
      `not yet bound to this index (run \`auditforge bucket verify --all --fix\`): ${unboundPointed}`,
    )
    expect(found.detail).toContain('1 bound to other indexes (other environments)')
    expect(found.detail).not.toContain('no record points at')

    index([{engagement_id: 'eng-cccccccccccc', source_bucket: theirs}])
    found = (await runDoctor(testContext(), sharedBucket)).find((check) => check.check === 'engagement buckets')!
    expect(found.status).toBe('fail')
    expect(found.detail).toContain(`eng-cccccccccccc → ${theirs} (bound to staging-shared)`)
  })

  it('warns on an unversioned shared bucket and fails on an unreadable one', async () => {
    healthy()
    s3Mock.on(GetBucketVersioningCommand).resolves({})
    expect(status(await runDoctor(testContext(), sharedBucket), 'shared bucket')).toBe('warn')
    s3Mock.on(HeadBucketCommand).rejects(s3Error('Forbidden', 403))
    expect(status(await runDoctor(testContext(), sharedBucket), 'shared bucket')).toBe('fail')
  })
})
