/**
 * The S3 Batch Operations job of a migration run: created once (a ClientRequestToken derived from
 * the engagement and the run, so asking again returns the same job), found again after an
 * interruption (the run's state object in the shared bucket, and ListJobs for any job of the
 * engagement still active), and watched with DescribeJob until it ends.
 */
import {createHash} from 'node:crypto'

import type {S3Client} from '@aws-sdk/client-s3'
import {
  CreateJobCommand,
  DescribeJobCommand,
  type JobDescriptor,
  type JobStatus,
  ListJobsCommand,
  type S3ControlClient,
} from '@aws-sdk/client-s3-control'

import {AuditforgeError, ExitCode, awsErrorCode, describeAwsError, httpStatus} from '../../errors.js'
import {batchKeys, parseBatchManifestKey, parseBatchStateKey} from '../../layout.js'
import {listObjects, putObject, readText} from '../../s3/index.js'
import type {BulkJobProgress} from '../engine.js'
import type {WrittenManifest} from './manifest.js'
import type {ReportLocation} from './report.js'

/** A run's job, as stored beside its manifest (`job.json`): enough to find, watch and read it again. */
export interface JobState {
  engagement_id: string
  run_id: string
  client_request_token: string
  /** null until CreateJob has answered. */
  job_id: string | null
  /** `consumed`: its report has been turned into evidence; `abandoned`: it ended Failed or Cancelled. */
  state: 'creating' | 'created' | 'consumed' | 'abandoned'
  role_arn: string
  source_bucket: string
  target_bucket: string
  manifest: {bucket: string; key: string; etag: string; version_id: string | null}
  report: ReportLocation
  tasks: number
  bytes: number
  created_at: string
  /** Why the job was abandoned (or, for a settled job, what became of it). */
  reason?: string
}

/** What CreateJob and the job's watch need besides the state. */
export interface JobContext {
  control: S3ControlClient
  s3: S3Client
  /** The account the job runs in (S3 Control's AccountId). */
  accountId: string
  sharedBucket: string
  sleep: (ms: number) => Promise<void>
  /** Waits between DescribeJob calls, in ms; the last repeats. */
  pollIntervals: number[]
  now: () => Date
  /**
   * How long a watch waits on a job whose status and task counts do not change (a job Paused
   * for a higher-priority one, stuck Preparing or Cancelling) before it stops watching, in ms.
   */
  stallAfterMs?: number
}

/** A watch gives up on a job that shows no change for this long (1 hour) unless told otherwise. */
export const defaultStallAfterMs = 60 * 60 * 1000

/** Statuses in which a job is still going somewhere (ListJobs' active ones). */
export const activeStatuses: JobStatus[] = [
  'New',
  'Preparing',
  'Ready',
  'Active',
  'Pausing',
  'Paused',
  'Suspended',
  'Completing',
  'Cancelling',
  'Failing',
]

/** The ClientRequestToken of an engagement's run: the same on every attempt, so S3 makes one job. */
export function jobToken(engagementId: string, runId: string): string {
  return `auditforge-${createHash('sha256').update(`${engagementId}/${runId}`).digest('hex').slice(0, 40)}`
}

/** The job's description: names the engagement and the run (ListJobs shows it; tags say the same). */
export function jobDescription(engagementId: string, runId: string): string {
  return `auditforge migrate ${engagementId} run ${runId}`
}

const arn = (bucket: string, key?: string) => `arn:aws:s3:::${bucket}${key === undefined ? '' : `/${key}`}`

/** Writes (or rewrites) a run's job state in the shared bucket. */
async function writeState(context: Pick<JobContext, 's3' | 'sharedBucket'>, state: JobState): Promise<void> {
  await putObject(
    context.s3,
    {bucket: context.sharedBucket, key: batchKeys.state(state.engagement_id, state.run_id)},
    `${JSON.stringify(state, null, 2)}\n`,
    {
      contentType: 'application/json',
      action: 'Recording the Batch Operations job',
    },
  )
}

async function readState(
  context: Pick<JobContext, 's3' | 'sharedBucket'>,
  engagementId: string,
  runId: string,
): Promise<JobState | undefined> {
  const stored = await readText(
    context.s3,
    {bucket: context.sharedBucket, key: batchKeys.state(engagementId, runId)},
    'Reading the Batch Operations job record',
  )
  return stored ? (JSON.parse(stored.text) as JobState) : undefined
}

/** Marks a job's report as turned into evidence, or the job as abandoned (ended without usable results), with the reason. */
export async function settleJob(
  context: Pick<JobContext, 's3' | 'sharedBucket'>,
  state: JobState,
  outcome: 'consumed' | 'abandoned',
  reason?: string,
): Promise<void> {
  await writeState(context, {...state, state: outcome, ...(reason === undefined ? {} : {reason})})
}

/**
 * Creates the run's job: its state first (with the token), then CreateJob, then the state again
 * with the job id. Interrupted anywhere, the next run finds the state and asks again with the same
 * token, which returns the same job rather than a second one.
 */
export async function startJob(
  context: JobContext,
  request: {
    engagementId: string
    runId: string
    roleArn: string
    targetBucket: string
    report: ReportLocation
    manifest: WrittenManifest
  },
): Promise<JobState> {
  const {engagementId, runId, manifest} = request
  const state: JobState = {
    engagement_id: engagementId,
    run_id: runId,
    client_request_token: jobToken(engagementId, runId),
    job_id: null,
    state: 'creating',
    role_arn: request.roleArn,
    source_bucket: context.sharedBucket,
    target_bucket: request.targetBucket,
    manifest: {bucket: manifest.bucket, key: manifest.key, etag: manifest.etag, version_id: manifest.versionId},
    report: request.report,
    tasks: manifest.tasks,
    bytes: manifest.bytes,
    created_at: context.now().toISOString(),
  }
  await writeState(context, state)
  return createJob(context, state)
}

/** CreateJob for a stored state (idempotent by its token); stores and returns the state with the job id. */
async function createJob(context: JobContext, state: JobState): Promise<JobState> {
  const {engagement_id: engagementId, run_id: runId} = state
  let jobId: string | undefined
  try {
    const reply = await context.control.send(
      new CreateJobCommand({
        AccountId: context.accountId,
        ConfirmationRequired: false,
        ClientRequestToken: state.client_request_token,
        Priority: 10,
        RoleArn: state.role_arn,
        Description: jobDescription(engagementId, runId),
        Operation: {
          S3PutObjectCopy: {
            TargetResource: arn(state.target_bucket),
            // Content type, user metadata and tags come along (the manifest holds only STANDARD
            // objects, so the one storage class of the job is theirs).
            MetadataDirective: 'COPY',
            StorageClass: 'STANDARD',
            ChecksumAlgorithm: 'CRC64NVME',
          },
        },
        Manifest: {
          Spec: {Format: 'S3BatchOperations_CSV_20180820', Fields: ['Bucket', 'Key', 'VersionId']},
          Location: {
            ObjectArn: arn(state.manifest.bucket, state.manifest.key),
            ETag: state.manifest.etag.replace(/"/g, ''),
            ...(state.manifest.version_id && state.manifest.version_id !== 'null'
              ? {ObjectVersionId: state.manifest.version_id}
              : {}),
          },
        },
        Report: {
          Enabled: true,
          Bucket: arn(state.report.bucket),
          Format: 'Report_CSV_20180820',
          Prefix: state.report.prefix,
          ReportScope: 'AllTasks',
        },
        Tags: [
          {Key: 'auditforge:engagement-id', Value: engagementId},
          {Key: 'auditforge:migration-run', Value: runId},
          {Key: 'auditforge:managed-by', Value: 'auditforge'},
        ],
      }),
    )
    jobId = reply.JobId
  } catch (error) {
    const described = describeJobError(error, 'Creating the S3 Batch Operations job', state.role_arn)
    // Refused outright (access denied, a bad role): no job exists, so the next run starts afresh
    // with the settings it is given then. A lost or throttled answer keeps the state, to ask again.
    if (refusedOutright(error)) await writeState(context, {...state, state: 'abandoned'})
    throw described
  }
  if (!jobId)
    throw new AuditforgeError('Creating the S3 Batch Operations job: S3 Control answered without a job id', {
      code: 'batch_job',
      exit: ExitCode.failed,
    })
  const created: JobState = {...state, job_id: jobId, state: 'created'}
  await writeState(context, created)
  return created
}

/**
 * An earlier run's job for this engagement whose report has not been turned into evidence yet,
 * if there is one: the newest unsettled state in the shared bucket (a state without a job id is
 * created now, with its own token, which returns the job if S3 had made it), else a job of the
 * engagement that ListJobs shows still active (its manifest says which run made it).
 */
export async function findPendingJob(context: JobContext, engagementId: string): Promise<JobState | undefined> {
  const [state] = await unsettledStates(context, engagementId)
  if (state) return state.job_id ? state : createJob(context, state)
  // A job whose state was never stored or was lost: found by its description, re-attached by its manifest's run.
  for (const job of await listActiveJobs(context, engagementId)) {
    const described = await describeJob(context, job)
    const manifestKey = described.Manifest?.Location?.ObjectArn?.replace(`arn:aws:s3:::${context.sharedBucket}/`, '')
    const runId = manifestKey === undefined ? undefined : parseBatchManifestKey(engagementId, manifestKey)
    if (!runId) continue
    const state = await readState(context, engagementId, runId)
    if (state?.state === 'consumed' || state?.state === 'abandoned') continue
    return {
      ...(state ?? ({} as JobState)),
      engagement_id: engagementId,
      run_id: runId,
      client_request_token: jobToken(engagementId, runId),
      job_id: job,
      state: 'created',
      role_arn: described.RoleArn ?? state?.role_arn ?? '',
      source_bucket: context.sharedBucket,
      target_bucket:
        state?.target_bucket ??
        (described.Operation?.S3PutObjectCopy?.TargetResource ?? '').replace('arn:aws:s3:::', ''),
      manifest: state?.manifest ?? {
        bucket: context.sharedBucket,
        key: manifestKey!,
        etag: described.Manifest?.Location?.ETag ?? '',
        version_id: null,
      },
      report: state?.report ?? {
        bucket: (described.Report?.Bucket ?? '').replace('arn:aws:s3:::', ''),
        prefix: described.Report?.Prefix ?? '',
      },
      tasks: state?.tasks ?? described.ProgressSummary?.TotalNumberOfTasks ?? 0,
      bytes: state?.bytes ?? 0,
      created_at: state?.created_at ?? described.CreationTime?.toISOString() ?? context.now().toISOString(),
    }
  }
  return undefined
}

/**
 * The engagement's job states in the shared bucket that no run has settled (consumed or
 * abandoned), newest run first: one listing of the engagement's batch prefix (nothing there, as
 * for an engagement never run with Batch Operations, costs that one request).
 */
export async function unsettledStates(
  context: Pick<JobContext, 's3' | 'sharedBucket'>,
  engagementId: string,
): Promise<JobState[]> {
  const runs: string[] = []
  for await (const object of listObjects(context.s3, {
    bucket: context.sharedBucket,
    prefix: batchKeys.prefix(engagementId),
  })) {
    const runId = parseBatchStateKey(engagementId, object.Key)
    if (runId) runs.push(runId)
  }
  const states: JobState[] = []
  for (const runId of runs.sort().reverse()) {
    const state = await readState(context, engagementId, runId)
    if (state && state.state !== 'consumed' && state.state !== 'abandoned') states.push(state)
  }
  return states
}

/** Ids of the engagement's jobs that ListJobs shows in an active status, every page (only those of `runId` when given). */
export async function listActiveJobs(context: JobContext, engagementId: string, runId?: string): Promise<string[]> {
  const prefix = runId === undefined ? `auditforge migrate ${engagementId} run ` : jobDescription(engagementId, runId)
  const ids: string[] = []
  let nextToken: string | undefined
  do {
    let reply
    try {
      reply = await context.control.send(
        new ListJobsCommand({
          AccountId: context.accountId,
          JobStatuses: activeStatuses,
          NextToken: nextToken,
          MaxResults: 1000,
        }),
      )
    } catch (error) {
      throw describeJobError(error, 'Listing S3 Batch Operations jobs')
    }
    for (const job of reply.Jobs ?? [])
      if (job.JobId && (runId === undefined ? job.Description?.startsWith(prefix) : job.Description === prefix))
        ids.push(job.JobId)
    nextToken = reply.NextToken
  } while (nextToken)
  return ids
}

export async function describeJob(context: JobContext, jobId: string): Promise<JobDescriptor> {
  try {
    const reply = await context.control.send(new DescribeJobCommand({AccountId: context.accountId, JobId: jobId}))
    return reply.Job ?? {}
  } catch (error) {
    throw describeJobError(error, `Reading S3 Batch Operations job ${jobId}`)
  }
}

/** Consecutive DescribeJob failures (throttling, a blip) a watch rides out before it gives up. */
const maxPollFailures = 8

/**
 * Watches a job until it is Complete, reporting its progress after every DescribeJob. A job that
 * is Suspended, Failed or Cancelled is an error naming the job and what to do; so is one whose
 * status and task counts have not changed for `stallAfterMs` (the wait is bounded too). Throttling
 * and passing failures of DescribeJob are waited out (a few in a row).
 */
export async function waitForJob(
  context: JobContext,
  state: JobState,
  onJob: (job: BulkJobProgress) => void,
): Promise<JobDescriptor> {
  const jobId = state.job_id!
  const stallAfterMs = context.stallAfterMs ?? defaultStallAfterMs
  let failures = 0
  let seen = ''
  let changedAt = context.now().getTime()
  for (let poll = 0; ; poll++) {
    let job: JobDescriptor
    try {
      job = await describeJob(context, jobId)
      failures = 0
    } catch (error) {
      if (++failures >= maxPollFailures || !isPassing(error)) throw error
      await context.sleep(context.pollIntervals.at(-1)!)
      continue
    }
    const summary = job.ProgressSummary
    const [succeeded, failed] = [summary?.NumberOfTasksSucceeded ?? 0, summary?.NumberOfTasksFailed ?? 0]
    const tasks = summary?.TotalNumberOfTasks || state.tasks
    const elapsed = summary?.Timers?.ElapsedTimeInActiveSeconds
    const done = succeeded + failed
    onJob({
      jobId,
      status: job.Status ?? 'unknown',
      tasks,
      succeeded,
      failed,
      bytes: state.bytes,
      remainingSeconds: elapsed && done > 0 ? (elapsed * (tasks - done)) / done : undefined,
    })
    switch (job.Status) {
      case 'Complete':
        return job
      case 'Suspended':
        throw jobStopped(
          context,
          state,
          job,
          `is suspended${job.SuspendedCause ? ` (${job.SuspendedCause})` : ''}; once its cause is dealt with, resume it (aws s3control update-job-status --account-id ${context.accountId} --job-id ${jobId} --requested-job-status Ready) and run the migration again, which re-attaches to it`,
          [],
        )
      case 'Failed':
      case 'Cancelled':
        throw jobStopped(context, state, job, job.Status === 'Failed' ? 'failed' : 'was cancelled', [
          'Nothing was switched. Run the migration again to start a new job; it copies what this one did not (or cannot be proven to have) copied.',
        ])
      default: {
        const now = context.now().getTime()
        const observed = `${job.Status}/${succeeded}/${failed}`
        if (observed !== seen) [seen, changedAt] = [observed, now]
        else if (now - changedAt >= stallAfterMs) {
          const minutes = Math.round((now - changedAt) / 60_000)
          throw new AuditforgeError(
            `S3 Batch Operations job ${jobId} for ${state.engagement_id} has been ${job.Status} with no progress for ${minutes} minutes (${succeeded + failed} of ${tasks} tasks done); stopped watching it, the job itself is untouched and nothing was switched`,
            {
              code: 'batch_job_stalled',
              exit: ExitCode.failed,
              suggestion: `Run the migration again later to re-attach to it, or cancel it (aws s3control update-job-status --account-id ${context.accountId} --job-id ${jobId} --requested-job-status Cancelled) and run the migration again for a new one.`,
            },
          )
        }
        await context.sleep(context.pollIntervals[Math.min(poll, context.pollIntervals.length - 1)])
      }
    }
  }
}

function jobStopped(
  context: JobContext,
  state: JobState,
  job: JobDescriptor,
  what: string,
  suggestion: string[],
): AuditforgeError {
  const reasons = (job.FailureReasons ?? [])
    .map((reason) => [reason.FailureCode, reason.FailureReason].filter(Boolean).join(': '))
    .filter(Boolean)
  const why = [...reasons, ...(job.StatusUpdateReason ? [job.StatusUpdateReason] : [])]
  const message = `S3 Batch Operations job ${state.job_id} for ${state.engagement_id} ${what}${why.length > 0 ? `: ${why.join('; ')}` : ''}`
  return new AuditforgeError(message, {
    code:
      job.Status === 'Suspended'
        ? 'batch_job_suspended'
        : job.Status === 'Cancelled'
          ? 'batch_job_cancelled'
          : 'batch_job_failed',
    exit: ExitCode.failed,
    ...(suggestion.length > 0 ? {suggestion: suggestion.join(' ')} : {}),
  })
}

/** A 4xx answer that is not throttling nor a token conflict: the request was refused and made nothing. */
function refusedOutright(error: unknown): boolean {
  const status = httpStatus(error)
  const code = awsErrorCode(error)
  return (
    status !== undefined &&
    status >= 400 &&
    status < 500 &&
    status !== 429 &&
    !/TooManyRequests|Throttl|SlowDown|Idempotency/.test(code ?? '')
  )
}

/** Throttling, a server error or the network: worth another DescribeJob after a wait. */
function isPassing(error: unknown): boolean {
  const code = error instanceof AuditforgeError ? error.code : undefined
  return code === 'throttled' || code === 'network' || code === 'timeout' || code === 'batch_service_error'
}

/**
 * An S3 Control error described for the operator: access denied (the caller's s3:CreateJob or
 * iam:PassRole, or the role's trust), a role S3 Batch Operations cannot use, throttling.
 */
export function describeJobError(error: unknown, action: string, roleArn?: string): AuditforgeError {
  if (error instanceof AuditforgeError) return error
  const code = awsErrorCode(error)
  const detail = error instanceof Error ? error.message.split('\n', 1)[0] : String(error)
  const role = roleArn ? ` ${roleArn}` : ''
  if (code === 'AccessDenied' || code === 'AccessDeniedException') {
    return new AuditforgeError(`${action}: access denied (${detail})`, {
      code: 'access_denied',
      exit: ExitCode.failed,
      suggestion: `The caller needs s3:CreateJob, s3:DescribeJob, s3:ListJobs and iam:PassRole on the role${role}; \`auditforge migrate batch-role\` prints the role's own policies.`,
      cause: error,
    })
  }
  if (
    code === 'TooManyRequestsException' ||
    code === 'TooManyRequests' ||
    code === 'SlowDown' ||
    code === 'ThrottlingException'
  ) {
    return new AuditforgeError(`${action}: S3 Batch Operations is throttling requests (${code}) and retries ran out`, {
      code: 'throttled',
      exit: ExitCode.failed,
      suggestion:
        'Run the migration again in a little while; a job already created is re-attached, never created twice.',
      cause: error,
    })
  }
  if ((code === 'BadRequestException' || code === 'InvalidRequest') && /role|assume|iam/i.test(detail)) {
    return new AuditforgeError(`${action}: S3 Batch Operations cannot use the role${role} (${detail})`, {
      code: 'batch_role_invalid',
      exit: ExitCode.failed,
      suggestion:
        'Check --role-arn / AUDITFORGE_BATCH_ROLE_ARN: the role must exist, trust batchoperations.s3.amazonaws.com and carry the permissions `auditforge migrate batch-role` prints.',
      cause: error,
    })
  }
  if (code === 'IdempotencyException') {
    return new AuditforgeError(
      `${action}: a job with this run's request token exists with other settings (${detail})`,
      {
        code: 'batch_job_conflict',
        exit: ExitCode.conflict,
        suggestion: 'Another run of the same migration made it; run the migration again to re-attach to it.',
        cause: error,
      },
    )
  }
  if (code === 'InternalServiceException' || code === 'InternalError' || code === 'ServiceUnavailable') {
    return new AuditforgeError(`${action}: S3 Batch Operations failed (${code}: ${detail})`, {
      code: 'batch_service_error',
      exit: ExitCode.failed,
      cause: error,
    })
  }
  return describeAwsError(error, {action})
}
