/**
 * What a finished job's results are worth: the batch engine in process on moto, with an S3
 * Control stand-in whose job is "Complete" without having done (all of) its work, as a task that
 * failed silently, or a report that does not account for every failed task, would leave it. A
 * stale same-size object in the target is never accepted on size (only identity proves a copy),
 * and a finished job whose report could not be read is settled so that the next run gets past it.
 */
import {GetObjectCommand, PutObjectCommand, type S3Client} from '@aws-sdk/client-s3'
import {CreateJobCommand, DescribeJobCommand, ListJobsCommand, type S3ControlClient} from '@aws-sdk/client-s3-control'
import {describe, expect, it} from 'vitest'

import {EngagementIndex} from '../../../src/lib/engagement-index.js'
import {createBatchEngine, executeMigration, planMigration} from '../../../src/lib/migrate/index.js'
import {
  expectedBucketName,
  makeManagedBucket,
  putIndex,
  randomEngagementId,
  seedRecord,
} from '../../helpers/commands.js'
import {motoContext} from '../../helpers/library.js'
import {createSharedBucket, testS3} from '../../helpers/s3.js'

const key = (id: string, name: string) => `auditforge/engagements/${id}/${name}`
const put = (s3: S3Client, bucket: string, name: string, body: string) =>
  s3.send(new PutObjectCommand({Bucket: bucket, Key: name, Body: body}))
const read = async (s3: S3Client, bucket: string, name: string) =>
  (await s3.send(new GetObjectCommand({Bucket: bucket, Key: name}))).Body!.transformToString()
const role = 'arn:aws:iam::123456789012:role/auditforge-batch'

interface FakeJob {
  tasks: number
  failed: number
}

/**
 * A stand-in S3 Control: CreateJob answers a new id (and, when `writeReport`, writes an empty
 * completion report: no failed-task CSV), DescribeJob says Complete with `failed` of `tasks`
 * failed, ListJobs lists nothing. No task ever copies anything.
 */
function fakeControl(s3: S3Client, options: {failed: number; writeReport: () => boolean}) {
  const jobs = new Map<string, FakeJob>()
  let created = 0
  const control = {
    async send(command: unknown) {
      if (command instanceof CreateJobCommand) {
        const input = command.input
        const jobId = `fake-job-${++created}`
        const manifestArn = input.Manifest!.Location!.ObjectArn!
        const [, bucket, manifestKey] = /^arn:aws:s3:::([^/]+)\/(.+)$/.exec(manifestArn)!
        const manifest = await read(s3, bucket, manifestKey)
        jobs.set(jobId, {tasks: manifest.trim().split('\n').length, failed: options.failed})
        if (options.writeReport()) {
          const reportBucket = input.Report!.Bucket!.replace('arn:aws:s3:::', '')
          await s3.send(
            new PutObjectCommand({
              Bucket: reportBucket,
              Key: `${input.Report!.Prefix}/job-${jobId}/manifest.json`,
              Body: JSON.stringify({
                Format: 'Report_CSV_20180820',
                Results: [],
                ReportSchema: 'Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage',
              }),
            }),
          )
        }
        return {JobId: jobId}
      }
      if (command instanceof DescribeJobCommand) {
        const job = jobs.get(command.input.JobId!)!
        return {
          Job: {
            JobId: command.input.JobId,
            Status: 'Complete',
            ProgressSummary: {
              TotalNumberOfTasks: job.tasks,
              NumberOfTasksSucceeded: job.tasks - job.failed,
              NumberOfTasksFailed: job.failed,
              Timers: {ElapsedTimeInActiveSeconds: 1},
            },
          },
        }
      }
      if (command instanceof ListJobsCommand) return {Jobs: []}
      throw new Error(`unexpected S3 Control call ${String(command)}`)
    },
    get created() {
      return created
    },
  }
  return control
}

async function seedWithStaleTarget(stem: string) {
  const s3 = testS3()
  const shared = await createSharedBucket(s3, stem)
  const id = randomEngagementId()
  await putIndex(s3, shared, {engagements: [seedRecord(id)]})
  await put(s3, shared, key(id, 'findings.json'), 'NEW-CONTENT')
  await put(s3, shared, key(id, 'audit_log/shard-00000.jsonl'), '{"event":"one"}\n')
  // The target left by an earlier, interrupted attempt: the same key, the same size, older bytes.
  const target = await makeManagedBucket(s3, id, shared)
  expect(target).toBe(expectedBucketName(id))
  await put(s3, target, key(id, 'findings.json'), 'OLD-CONTENT')
  return {s3, shared, id, target}
}

describe("the batch engine proves a job's copies by identity, never on size", () => {
  for (const failed of [0, 1]) {
    it(`does not flip a stale same-size target object after a Complete job whose report lists no failed task (DescribeJob: ${failed} failed)`, async () => {
      const {s3, shared, id, target} = await seedWithStaleTarget(`silent-${failed}`)
      const control = fakeControl(s3, {failed, writeReport: () => true})
      const context = motoContext(shared)
      const engine = createBatchEngine(context, shared, {
        choice: 'batch',
        roleArn: role,
        pollIntervals: [1],
        control: control as unknown as S3ControlClient,
      })

      const [outcome] = await executeMigration(context, await planMigration(context, shared, {engagementId: id}), {
        bulk: engine,
      })

      // Whatever the job said, the record must not point at a bucket holding other bytes than the source.
      const flipped = (await new EngagementIndex(s3, shared).get(id)).source_bucket === target
      const bytes = await read(s3, target, key(id, 'findings.json'))
      expect({status: outcome.status, flipped, bytes}).toEqual(
        flipped
          ? {status: 'migrated', flipped: true, bytes: 'NEW-CONTENT'}
          : {status: outcome.status, flipped: false, bytes},
      )
      // Nothing the job wrote is proven, so the local engine copied both objects in the same run.
      expect(outcome).toMatchObject({status: 'migrated', batch: {tasks: 2, retried_locally: 2}})
    })
  }
})

describe('a finished job whose report could not be read is settled, not re-attached to forever', () => {
  it('after batch_report_missing, a re-run (the cause fixed) gets past the old job instead of failing on it forever', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'report-missing')
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    await put(s3, shared, key(id, 'findings.json'), 'findings')
    let reportsWork = false
    const control = fakeControl(s3, {failed: 0, writeReport: () => reportsWork})
    const context = motoContext(shared)
    const engine = () =>
      createBatchEngine(context, shared, {
        choice: 'batch',
        roleArn: role,
        pollIntervals: [1],
        control: control as unknown as S3ControlClient,
      })

    const [first] = await executeMigration(context, await planMigration(context, shared, {engagementId: id}), {
      bulk: engine(),
    })
    expect(first.status).toBe('failed')
    expect(first.error).toContain('without a completion report')

    // The operator does what the message says (lets the role write the report) and runs again.
    reportsWork = true
    const [second] = await executeMigration(context, await planMigration(context, shared, {engagementId: id}), {
      bulk: engine(),
    })
    expect(second.error).toBeUndefined()
    expect(second.status).toBe('migrated')
    // The first job was settled (abandoned, with the reason); the second run made its own.
    expect(control.created).toBe(2)
  })
})
