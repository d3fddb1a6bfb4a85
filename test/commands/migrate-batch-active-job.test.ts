/**
 * A batch run killed while its job is active, then a run with the default engine (`local`): the
 * local run finds the job (its state in the shared bucket, then DescribeJob) and refuses (exit 5,
 * naming the job and what to do, record untouched), so the still-running job can never overwrite
 * what the application writes into the engagement's bucket after a switch. A run with
 * `--engine batch` then adopts the job, and once it has switched, nothing writes over the
 * application any more.
 */
import {spawn} from 'node:child_process'

import {GetObjectCommand, PutObjectCommand} from '@aws-sdk/client-s3'
import {describe, expect, inject, it} from 'vitest'

import {batchJobService} from '../fixtures/batch-job-service.js'
import {baseEnv, binPath, runJson} from '../helpers/cli.js'
import {
  expectedBucketName,
  putIndex,
  randomEngagementId,
  readIndex,
  recordsOf,
  seedRecord,
} from '../helpers/commands.js'
import type {MigrateJson} from '../helpers/migrate.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

const s3 = testS3()
const service = batchJobService(inject('batchEndpoint'))
const role = 'arn:aws:iam::123456789012:role/auditforge-batch'
const migrate = (bucket: string, ...args: string[]) => ['migrate', '--shared-bucket', bucket, ...args]
const read = async (bucket: string, key: string) =>
  (await s3.send(new GetObjectCommand({Bucket: bucket, Key: key}))).Body!.transformToString()

describe("a local run while an interrupted run's Batch Operations job is still active", () => {
  it(
    'is refused (exit 5, the job named, record untouched); a batch run adopts the job, and the old job never overwrites the engagement bucket after the switch',
    {timeout: 120_000},
    async () => {
      const bucket = await createSharedBucket(s3, 'batch-then-local')
      const id = randomEngagementId()
      await putIndex(s3, bucket, {engagements: [seedRecord(id)]})
      const keys = Array.from(
        {length: 12},
        (_, i) => `auditforge/engagements/${id}/audit_log/shard-${String(i).padStart(5, '0')}.jsonl`,
      )
      for (const key of keys)
        await s3.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: `{"shard":"${key.slice(-11)}"}\n`}))
      await service.behave(id, {holdAfter: 3})

      // The batch run, killed while its job is active and held after 3 tasks.
      const child = spawn(
        process.execPath,
        [binPath, ...migrate(bucket, '--execute', '--yes', '--engine', 'batch', '--role-arn', role)],
        {env: baseEnv() as NodeJS.ProcessEnv, stdio: 'ignore'},
      )
      const exited = new Promise((resolve) => child.once('exit', resolve))
      const deadline = Date.now() + 30_000
      let jobs = await service.jobs(id)
      while (Date.now() < deadline && !(jobs[0]?.status === 'Active' && jobs[0].succeeded >= 3)) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        jobs = await service.jobs(id)
      }
      expect(jobs[0]?.status).toBe('Active')
      child.kill('SIGKILL')
      await exited

      // The operator runs again with the default engine: refused, the job named, nothing switched.
      const local = await runJson<MigrateJson>(migrate(bucket, '--execute', '--yes'))
      const target = expectedBucketName(id)
      const recordOf = async () =>
        recordsOf((await readIndex(s3, bucket)).json).find((candidate) => candidate.engagement_id === id)!
      expect(local.code).toBe(5)
      const [refused] = local.json.engagements
      expect(refused).toMatchObject({status: 'failed', error_code: 'batch_job_active'})
      expect(refused.error).toContain(jobs[0].jobId)
      expect(local.stderr).toContain('--requested-job-status Cancelled')
      expect((await recordOf()).source_bucket).not.toBe(target)
      expect((await service.jobs(id)).map((job) => job.status)).toEqual(['Active'])

      // The job the killed run left goes on (released here, as AWS would just carry on); a batch run adopts it.
      await service.release(jobs[0].jobId)
      const adopted = await runJson<MigrateJson>(
        migrate(bucket, '--execute', '--yes', '--engine', 'batch', '--role-arn', role),
      )
      expect(adopted.code).toBe(0)
      expect(adopted.json.engagements[0]).toMatchObject({
        status: 'migrated',
        batch: {job_id: jobs[0].jobId, reattached: true},
      })
      expect((await recordOf()).source_bucket).toBe(target)
      expect(await service.jobs(id)).toHaveLength(1)

      // Switched: the application now appends to the last shard in the engagement's bucket.
      const appended = `${await read(target, keys.at(-1)!)}{"event":"written by the application after the switch"}\n`
      await s3.send(new PutObjectCommand({Bucket: target, Key: keys.at(-1)!, Body: appended}))

      const until = Date.now() + 30_000
      while (Date.now() < until && (await service.jobs(id))[0].status !== 'Complete')
        await new Promise((resolve) => setTimeout(resolve, 100))
      expect((await service.jobs(id))[0].status).toBe('Complete')

      expect(await read(target, keys.at(-1)!)).toBe(appended)
    },
  )
})
