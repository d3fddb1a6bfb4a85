/**
 * Before any run copies into an engagement's bucket (whatever its engine): an earlier run's S3
 * Batch Operations job for the engagement that is still active may yet write there, over what
 * this run copies or, after the switch, over what the application writes. The job states in the
 * shared bucket say whether such a job may exist, so a run that finds none (every engagement never
 * run with Batch Operations) makes one listing and no S3 Control call at all.
 */
import type {S3ControlClient} from '@aws-sdk/client-s3-control'

import {type AwsContext, createS3ControlClient} from '../../aws.js'
import {AuditforgeError, ExitCode} from '../../errors.js'
import type {BulkJobGuard, EarlierBulkJob} from '../engine.js'
import {type JobContext, describeJob, listActiveJobs, settleJob, unsettledStates} from './jobs.js'

/** Statuses of a job that will copy nothing more. */
const finished = new Set(['Complete', 'Failed', 'Cancelled'])

/** The guard for a run: see the module comment. `control` is made from the context's settings only when needed. */
export function createJobGuard(context: AwsContext, sharedBucket: string, control?: S3ControlClient): BulkJobGuard {
  let jobs: Promise<JobContext> | undefined
  const jobContext = () =>
    (jobs ??= (async () => ({
      control: control ?? createS3ControlClient(context.settings, context.credentials),
      s3: context.s3,
      accountId: await context.accountId(),
      sharedBucket,
      sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
      pollIntervals: [1000],
      now: () => new Date(),
    }))())
  return {
    async earlierJob(engagementId: string): Promise<EarlierBulkJob | undefined> {
      const states = await unsettledStates({s3: context.s3, sharedBucket}, engagementId)
      for (const state of states) {
        const jobs = await jobContext()
        if (!state.job_id) {
          // Interrupted around CreateJob: the job exists if the request got through, and ListJobs shows it while active.
          const [active] = await listActiveJobs(jobs, engagementId, state.run_id)
          if (active)
            return activeJob(
              jobs,
              state.target_bucket,
              engagementId,
              active,
              (await describeJob(jobs, active)).Status ?? 'New',
            )
          await settleJob(
            jobs,
            state,
            'abandoned',
            'no active job was found for this run (CreateJob may never have gone through); a later run proved or copied the objects itself',
          )
          continue
        }
        const status = (await describeJob(jobs, state.job_id)).Status ?? 'unknown'
        if (!finished.has(status)) return activeJob(jobs, state.target_bucket, engagementId, state.job_id, status)
        // Finished, its report not turned into evidence: what it wrote is proven (or copied again) by identity like anything else in the target.
        await settleJob(
          jobs,
          state,
          'abandoned',
          `the job was ${status} when a run that does not use Batch Operations found it; that run proved or copied the engagement's objects itself`,
        )
      }
      return undefined
    },
  }
}

function activeJob(
  jobs: JobContext,
  targetBucket: string,
  engagementId: string,
  jobId: string,
  status: string,
): EarlierBulkJob {
  const what = `run the migration again with --engine batch (and its role) to wait for the job and adopt what it copied, or cancel it (aws s3control update-job-status --account-id ${jobs.accountId} --job-id ${jobId} --requested-job-status Cancelled) and run again once it shows Cancelled`
  return {
    jobId,
    status,
    // The engagement's outcome keeps only the message: it says what to do too.
    refusal: new AuditforgeError(
      `S3 Batch Operations job ${jobId}, started for ${engagementId} by an earlier run, is still ${status}: it may yet write into ${targetBucket}, so this run copied nothing and left the record as it is; ${what}`,
      {code: 'batch_job_active', exit: ExitCode.refused, suggestion: what},
    ),
  }
}
