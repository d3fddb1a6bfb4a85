/**
 * The guard every run passes before it copies into an engagement's bucket (an earlier run's S3
 * Batch Operations job that may still write there), call by call with aws-sdk-client-mock, and
 * the run's decision on moto: a bulk engine adopts such a job even when its `auto` threshold
 * would not take the engagement; without one the engagement is refused, record untouched.
 */
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientResolvedConfig,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from '@aws-sdk/client-s3'
import {
  DescribeJobCommand,
  ListJobsCommand,
  S3ControlClient,
  type S3ControlClientResolvedConfig,
  type ServiceInputTypes as ControlInput,
  type ServiceOutputTypes as ControlOutput,
} from '@aws-sdk/client-s3-control'
import {type AwsStub, mockClient} from 'aws-sdk-client-mock'
import {afterAll, beforeAll, beforeEach, describe, expect, it} from 'vitest'

import {EngagementIndex} from '../../../src/lib/engagement-index.js'
import {createJobGuard} from '../../../src/lib/migrate/batch/guard.js'
import {jobDescription} from '../../../src/lib/migrate/batch/jobs.js'
import {executeMigration, planMigration} from '../../../src/lib/migrate/index.js'
import {expectedBucketName, putIndex, randomEngagementId, seedRecord} from '../../helpers/commands.js'
import {motoContext} from '../../helpers/library.js'
import {createSharedBucket, testS3} from '../../helpers/s3.js'
import {accountId, sharedBucket, streamBody, testContext} from '../fixtures.js'

const id = 'eng-0a1b2c3d4e5f'
const runId = '20260102T030405.678Z-a1b2c3'
const stateKey = `auditforge/batch-operations/${id}/${runId}/job.json`
const state = (fields: object) => ({
  engagement_id: id,
  run_id: runId,
  client_request_token: 't',
  role_arn: 'r',
  target_bucket: `metis-af-0a1b2c3d4e5f-${accountId}`,
  tasks: 2,
  bytes: 2,
  ...fields,
})

describe('the job guard', () => {
  // Installed for this block only: the decision tests below run on moto with real clients.
  let s3Mock: AwsStub<ServiceInputTypes, ServiceOutputTypes, S3ClientResolvedConfig>
  let controlMock: AwsStub<ControlInput, ControlOutput, S3ControlClientResolvedConfig>
  beforeAll(() => {
    s3Mock = mockClient(S3Client)
    controlMock = mockClient(S3ControlClient)
  })
  afterAll(() => {
    s3Mock.restore()
    controlMock.restore()
  })
  const guard = () =>
    createJobGuard(
      testContext(),
      sharedBucket,
      new S3ControlClient({region: 'us-east-1', credentials: {accessKeyId: 'x', secretAccessKey: 'x'}}),
    )
  const stored = (fields: object) => {
    s3Mock.on(ListObjectsV2Command).resolves({Contents: [{Key: stateKey}]})
    s3Mock.on(GetObjectCommand, {Key: stateKey}).callsFake(() => ({Body: streamBody(JSON.stringify(state(fields)))}))
    s3Mock.on(PutObjectCommand).resolves({ETag: '"s"'})
  }
  const settled = () => s3Mock.commandCalls(PutObjectCommand).map((call) => JSON.parse(String(call.args[0].input.Body)))

  beforeEach(() => {
    s3Mock.reset()
    controlMock.reset()
  })

  it('makes one listing and no S3 Control call for an engagement never run with Batch Operations', async () => {
    s3Mock.on(ListObjectsV2Command).resolves({})
    expect(await guard().earlierJob(id)).toBeUndefined()
    expect(controlMock.calls()).toHaveLength(0)
  })

  it('a run interrupted before CreateJob answered: the job ListJobs shows active for that run is the earlier job', async () => {
    stored({job_id: null, state: 'creating'})
    controlMock.on(ListJobsCommand).resolves({
      Jobs: [
        {JobId: 'job-other', Description: jobDescription(id, 'another-run')},
        {JobId: 'job-9', Description: jobDescription(id, runId)},
      ],
    })
    controlMock.on(DescribeJobCommand).resolves({Job: {JobId: 'job-9', Status: 'Active'}})
    const earlier = await guard().earlierJob(id)
    expect(earlier).toMatchObject({jobId: 'job-9', status: 'Active'})
    expect(earlier!.refusal).toMatchObject({
      code: 'batch_job_active',
      exit: 5,
      message: expect.stringContaining('job-9'),
    })
    expect(settled()).toEqual([])
  })

  it('… and when ListJobs shows none, CreateJob never went through: the state is settled abandoned, no earlier job', async () => {
    stored({job_id: null, state: 'creating'})
    controlMock.on(ListJobsCommand).resolves({Jobs: []})
    expect(await guard().earlierJob(id)).toBeUndefined()
    expect(settled()).toEqual([
      expect.objectContaining({state: 'abandoned', reason: expect.stringContaining('no active job was found')}),
    ])
  })

  it('a recorded job still active is the earlier job; one that finished unread is settled abandoned', async () => {
    stored({job_id: 'job-1', state: 'created'})
    controlMock.on(DescribeJobCommand).resolves({Job: {JobId: 'job-1', Status: 'Preparing'}})
    expect(await guard().earlierJob(id)).toMatchObject({jobId: 'job-1', status: 'Preparing'})

    controlMock.on(DescribeJobCommand).resolves({Job: {JobId: 'job-1', Status: 'Complete'}})
    expect(await guard().earlierJob(id)).toBeUndefined()
    expect(settled()).toEqual([
      expect.objectContaining({job_id: 'job-1', state: 'abandoned', reason: expect.stringContaining('Complete')}),
    ])
  })
})

describe("the run's decision, on moto", () => {
  const earlier = {
    jobId: 'job-7',
    status: 'Active',
    refusal: Object.assign(new Error('job-7 is still Active'), {code: 'batch_job_active'}),
  }
  /** A bulk engine whose threshold never takes the engagement; its first pass says it ran. */
  const underThreshold = () => {
    const calls: string[] = []
    return {
      calls,
      engine: {
        appliesTo: () => false,
        firstPass: async (pass: {sides: {engagementId: string}}) => {
          calls.push(pass.sides.engagementId)
          throw new Error('the bulk engine took the first pass')
        },
      },
    }
  }

  async function seeded() {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'guard')
    const engagement = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(engagement)]})
    await s3.send(
      new PutObjectCommand({Bucket: shared, Key: `auditforge/engagements/${engagement}/findings.json`, Body: '{}'}),
    )
    const context = motoContext(shared, s3)
    return {s3, shared, engagement, context, plan: await planMigration(context, shared, {engagementId: engagement})}
  }

  it('a bulk engine adopts an earlier job even under its auto threshold', async () => {
    const {context, plan, engagement} = await seeded()
    const bulk = underThreshold()
    const [outcome] = await executeMigration(context, plan, {
      bulk: bulk.engine as never,
      jobGuard: {earlierJob: async () => earlier},
    })
    expect(bulk.calls).toEqual([engagement])
    expect(outcome).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('the bulk engine took the first pass'),
    })
  })

  it('without a bulk engine the engagement is refused with the job named, record untouched; with no earlier job the local engine copies', async () => {
    const {s3, shared, context, plan, engagement} = await seeded()
    const [refused] = await executeMigration(context, plan, {jobGuard: {earlierJob: async () => earlier}})
    expect(refused).toMatchObject({status: 'failed', error: expect.stringContaining('job-7')})
    expect((await new EngagementIndex(s3, shared).get(engagement)).source_bucket).toBe('')

    const bulk = underThreshold()
    const [migrated] = await executeMigration(context, plan, {
      bulk: bulk.engine as never,
      jobGuard: {earlierJob: async () => undefined},
    })
    expect(bulk.calls).toEqual([])
    expect(migrated).toMatchObject({status: 'migrated'})
    expect((await new EngagementIndex(s3, shared).get(engagement)).source_bucket).toBe(expectedBucketName(engagement))
  })
})
