/**
 * Unit tests of the batch engine's pieces (src/lib/migrate/batch/): the manifest's key encoding,
 * the completion report's CSV, the request token, flag resolution, the IAM documents, and, with
 * aws-sdk-client-mock, what CreateJob carries and the S3 Control errors the loopback job service
 * cannot produce (AccessDenied on CreateJob, a role Batch Operations cannot use, TooManyRequests).
 */
import {GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {
  CreateJobCommand,
  DescribeJobCommand,
  ListJobsCommand,
  S3ControlClient,
  S3ControlServiceException,
} from '@aws-sdk/client-s3-control'
import {mockClient} from 'aws-sdk-client-mock'
import {beforeEach, describe, expect, it} from 'vitest'

import {AuditforgeError, ExitCode} from '../../../src/lib/errors.js'
import {
  type JobContext,
  type JobState,
  findPendingJob,
  startJob,
  waitForJob,
} from '../../../src/lib/migrate/batch/jobs.js'
import {writtenByJob} from '../../../src/lib/migrate/batch/engine.js'
import {failure, s3Error, streamBody} from '../fixtures.js'
import {validateKmsKeyArn} from '../../../src/lib/migrate/batch/policy.js'
import {readFailures} from '../../../src/lib/migrate/batch/report.js'
import {
  batchRolePolicies,
  csvRows,
  decodeManifestKey,
  encodeManifestKey,
  jobToken,
  manifestLine,
  resolveEngine,
  taskFailure,
} from '../../../src/lib/migrate/index.js'
import type {BulkJobProgress} from '../../../src/lib/migrate/engine.js'

const controlMock = mockClient(S3ControlClient)
const s3Mock = mockClient(S3Client)

const id = 'eng-0a1b2c3d4e5f'
const runId = '20260102T030405.678Z-a1b2c3'
const role = 'arn:aws:iam::123456789012:role/auditforge-batch'

function jobContext(): JobContext {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  const credentials = {accessKeyId: 'x', secretAccessKey: 'x'}
  return {
    control: new S3ControlClient({region: 'us-east-1', credentials, maxAttempts: 1}),
    s3: new S3Client({region: 'us-east-1', credentials}),
    accountId: '123456789012',
    sharedBucket: 'platform-shared',
    sleep: async () => {},
    pollIntervals: [1],
    now: () => new Date('2026-01-02T03:04:05Z'),
  }
}

const manifest = {
  bucket: 'platform-shared',
  key: `auditforge/batch-operations/${id}/${runId}/manifest.csv`,
  etag: '"0123abcd"',
  versionId: 'mv1',
  tasks: 3,
  bytes: 300,
}
const request = {
  engagementId: id,
  runId,
  roleArn: role,
  targetBucket: 'metis-af-0a1b2c3d4e5f-123456789012',
  report: {bucket: 'platform-shared', prefix: 'p/report'},
  manifest,
}

function controlError(name: string, status: number, message = `${name} (test)`): S3ControlServiceException {
  return new S3ControlServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: {httpStatusCode: status},
    message,
  })
}

beforeEach(() => {
  controlMock.reset()
  s3Mock.reset()
  s3Mock.on(PutObjectCommand).resolves({ETag: '"state"'})
})

describe('the manifest', () => {
  const keys = [
    'a b.txt',
    'plus+sign',
    '100%25 done',
    'comma,separated',
    'double"quote',
    "single'quote",
    'ünïcödé ✓',
    'line\nbreak\r',
    'hash#?&=;',
    '(paren)*!~',
  ]

  it('URL-encodes every key so a CSV line has exactly three fields and decodes back to the key', () => {
    for (const name of keys) {
      const key = `auditforge/engagements/${id}/source/${name}`
      const line = manifestLine('platform-shared', key, 'v1')
      expect(line.endsWith('\n')).toBe(true)
      const fields = line.slice(0, -1).split(',')
      expect(fields).toHaveLength(3)
      expect(fields[1]).toMatch(/^[A-Za-z0-9\-_.~/%]+$/)
      expect(decodeManifestKey(fields[1])).toBe(key)
    }
    // A space is %20, never `+`, which S3 would read back as a space.
    expect(encodeManifestKey('a b+c')).toBe('a%20b%2Bc')
    expect(decodeManifestKey('a+b%2Bc')).toBe('a b+c')
  })
})

describe('the completion report', () => {
  async function* lines(text: string) {
    for (const line of text.split('\n')) yield line
  }

  it('reads quoted fields with commas, doubled quotes and line breaks', async () => {
    const report = [
      'b,k%201,v1,succeeded,200,,Successful',
      'b,k2,v2,failed,403,AccessDenied,"Access ""Denied"", really',
      'over two lines"',
      '',
    ].join('\n')
    const rows: string[][] = []
    for await (const row of csvRows(lines(report))) rows.push(row)
    expect(rows).toEqual([
      ['b', 'k%201', 'v1', 'succeeded', '200', '', 'Successful'],
      ['b', 'k2', 'v2', 'failed', '403', 'AccessDenied', 'Access "Denied", really\nover two lines'],
    ])
  })

  it('takes the numeric one of the fifth and sixth fields as the HTTP status, the other as the error code', () => {
    expect(taskFailure(['b', 'k', 'v', 'failed', '403', 'AccessDenied', 'Access Denied'])).toEqual({
      code: 'AccessDenied',
      status: 403,
      message: 'Access Denied',
    })
    expect(taskFailure(['b', 'k', 'v', 'failed', 'NoSuchKey', '404', ''])).toEqual({
      code: 'NoSuchKey',
      status: 404,
      message: '',
    })
    expect(taskFailure(['b', 'k', 'v', 'failed', '500', '', 'x'])).toEqual({
      code: 'HTTP 500',
      status: 500,
      message: 'x',
    })
  })

  it("reads report.json (the API reference's name) when there is no manifest.json, and names the report when neither is there", async () => {
    const location = {bucket: 'reports', prefix: 'p/report'}
    s3Mock.on(GetObjectCommand, {Key: 'p/report/job-j1/manifest.json'}).rejects(s3Error('NoSuchKey', 404))
    s3Mock.on(GetObjectCommand, {Key: 'p/report/job-j1/report.json'}).callsFake(() => ({
      Body: streamBody(
        JSON.stringify({
          Format: 'Report_CSV_20180820',
          Results: [{TaskExecutionStatus: 'failed', Bucket: 'reports', Key: 'p/report/job-j1/results/f.csv'}],
        }),
      ),
    }))
    s3Mock
      .on(GetObjectCommand, {Key: 'p/report/job-j1/results/f.csv'})
      .callsFake(() => ({Body: streamBody('src,k%201,v1,failed,403,AccessDenied,Access Denied\n')}))
    const failures = await readFailures(new S3Client({region: 'us-east-1'}), location, 'j1')
    expect(failures.count).toBe(1)
    expect(failures.byKey.get('k 1')).toEqual({code: 'AccessDenied', status: 403, message: 'Access Denied'})

    s3Mock.on(GetObjectCommand, {Key: 'p/report/job-j2/manifest.json'}).rejects(s3Error('NoSuchKey', 404))
    s3Mock.on(GetObjectCommand, {Key: 'p/report/job-j2/report.json'}).rejects(s3Error('NoSuchKey', 404))
    const error = await failure(readFailures(new S3Client({region: 'us-east-1'}), location, 'j2'))
    expect(error).toMatchObject({
      code: 'batch_report_missing',
      message: expect.stringContaining('s3://reports/p/report/job-j2/manifest.json'),
    })
  })
})

describe('resolveEngine', () => {
  const env = {}
  it('defaults to local, and batch or auto with a role from the flag or AUDITFORGE_BATCH_ROLE_ARN', () => {
    expect(resolveEngine({execute: true}, env)).toEqual({engine: 'local'})
    expect(resolveEngine({execute: true, engine: 'batch', 'role-arn': role}, env)).toMatchObject({
      engine: 'batch',
      roleArn: role,
    })
    expect(resolveEngine({execute: true, engine: 'batch'}, {AUDITFORGE_BATCH_ROLE_ARN: role})).toMatchObject({
      engine: 'batch',
      roleArn: role,
    })
    const unconfigured = resolveEngine({execute: true, engine: 'auto'}, env)
    expect(unconfigured).toMatchObject({engine: 'auto', note: expect.stringContaining('local engine')})
    expect(unconfigured.roleArn).toBeUndefined()
    expect(
      resolveEngine(
        {execute: true, engine: 'auto'},
        {AUDITFORGE_BATCH_ROLE_ARN: role, AUDITFORGE_BATCH_AUTO_OBJECTS: '5'},
      ),
    ).toMatchObject({roleArn: role, autoObjects: 5})
  })

  it('refuses bad values and combinations as invalid input (exit 2)', () => {
    const bad = [
      {execute: true, engine: 'batch'},
      {execute: false, engine: 'local'},
      {execute: false, 'role-arn': role},
      {execute: true, engine: 'local', 'report-bucket': 'reports'},
      {execute: true, engine: 'batch', 'role-arn': 'arn:aws:iam::123:role/x'},
      {execute: true, engine: 'batch', 'role-arn': role, 'report-bucket': 'UPPER'},
      {execute: true, engine: 'fast'},
    ]
    for (const flags of bad) {
      expect(() => resolveEngine(flags, env), JSON.stringify(flags)).toThrow(AuditforgeError)
      try {
        resolveEngine(flags, env)
      } catch (error) {
        expect((error as AuditforgeError).exit).toBe(ExitCode.invalidInput)
      }
    }
    expect(() =>
      resolveEngine(
        {execute: true, engine: 'auto'},
        {AUDITFORGE_BATCH_ROLE_ARN: role, AUDITFORGE_BATCH_AUTO_OBJECTS: 'many'},
      ),
    ).toThrow(/AUDITFORGE_BATCH_AUTO_OBJECTS/)
  })
})

describe('CreateJob', () => {
  it('is one S3PutObjectCopy job with a deterministic token, tags naming the engagement and run, and no confirmation', async () => {
    controlMock.on(CreateJobCommand).resolves({JobId: 'job-1'})

    const state = await startJob(jobContext(), request)

    expect(state).toMatchObject({
      job_id: 'job-1',
      state: 'created',
      client_request_token: jobToken(id, runId),
      tasks: 3,
    })
    expect(jobToken(id, runId)).toBe(jobToken(id, runId))
    expect(jobToken(id, runId)).not.toBe(jobToken(id, '20260102T030405.678Z-ffffff'))
    expect(jobToken(id, runId).length).toBeLessThanOrEqual(64)
    const [call] = controlMock.commandCalls(CreateJobCommand)
    expect(call.args[0].input).toEqual({
      AccountId: '123456789012',
      ConfirmationRequired: false,
      ClientRequestToken: jobToken(id, runId),
      Priority: 10,
      RoleArn: role,
      Description: `auditforge migrate ${id} run ${runId}`,
      Operation: {
        S3PutObjectCopy: {
          TargetResource: 'arn:aws:s3:::metis-af-0a1b2c3d4e5f-123456789012',
          MetadataDirective: 'COPY',
          StorageClass: 'STANDARD',
          ChecksumAlgorithm: 'CRC64NVME',
        },
      },
      Manifest: {
        Spec: {Format: 'S3BatchOperations_CSV_20180820', Fields: ['Bucket', 'Key', 'VersionId']},
        Location: {ObjectArn: `arn:aws:s3:::platform-shared/${manifest.key}`, ETag: '0123abcd', ObjectVersionId: 'mv1'},
      },
      Report: {
        Enabled: true,
        Bucket: 'arn:aws:s3:::platform-shared',
        Format: 'Report_CSV_20180820',
        Prefix: 'p/report',
        ReportScope: 'AllTasks',
      },
      Tags: [
        {Key: 'auditforge:engagement-id', Value: id},
        {Key: 'auditforge:migration-run', Value: runId},
        {Key: 'auditforge:managed-by', Value: 'auditforge'},
      ],
    })
    // The state is stored before CreateJob (so a re-run asks again with the same token) and after.
    const states = s3Mock
      .commandCalls(PutObjectCommand)
      .map((put) => JSON.parse(String(put.args[0].input.Body)) as JobState)
    expect(states.map((stored) => [stored.state, stored.job_id])).toEqual([
      ['creating', null],
      ['created', 'job-1'],
    ])
  })

  it('AccessDenied: says the caller lacks s3:CreateJob or iam:PassRole on the role, exit 1', async () => {
    controlMock.on(CreateJobCommand).rejects(controlError('AccessDenied', 403, 'Access Denied'))
    const error = await failure(startJob(jobContext(), request))
    expect(error).toMatchObject({code: 'access_denied', exit: ExitCode.failed})
    expect(error.message).toBe('Creating the S3 Batch Operations job: access denied (Access Denied)')
    expect(error.suggestion).toContain(`iam:PassRole on the role ${role}`)
    expect(error.suggestion).toContain('auditforge migrate batch-role')
    // No job was made: the state says so, and the next run starts afresh (with the role it is given then).
    const states = s3Mock
      .commandCalls(PutObjectCommand)
      .map((put) => (JSON.parse(String(put.args[0].input.Body)) as JobState).state)
    expect(states).toEqual(['creating', 'abandoned'])
  })

  it('a role Batch Operations cannot use: names the role and what it must trust, exit 1', async () => {
    controlMock
      .on(CreateJobCommand)
      .rejects(
        controlError(
          'BadRequestException',
          400,
          'Unable to assume role arn:aws:iam::123456789012:role/auditforge-batch',
        ),
      )
    const error = await failure(startJob(jobContext(), request))
    expect(error).toMatchObject({code: 'batch_role_invalid', exit: ExitCode.failed})
    expect(error.message).toContain(`cannot use the role ${role}`)
    expect(error.suggestion).toContain('batchoperations.s3.amazonaws.com')
  })

  it('TooManyRequests once retries ran out: throttled, exit 1, and the re-run re-attaches', async () => {
    controlMock.on(CreateJobCommand).rejects(controlError('TooManyRequestsException', 429))
    const error = await failure(startJob(jobContext(), request))
    expect(error).toMatchObject({code: 'throttled', exit: ExitCode.failed})
    expect(error.suggestion).toContain('never created twice')
    // The answer may have been lost after the job was made: the state stays, to ask again with the same token.
    const states = s3Mock
      .commandCalls(PutObjectCommand)
      .map((put) => (JSON.parse(String(put.args[0].input.Body)) as JobState).state)
    expect(states).toEqual(['creating'])
  })
})

describe('findPendingJob', () => {
  it('asks again, with the same token, for a job whose CreateJob answer an interrupted run never got', async () => {
    const creating: Partial<JobState> = {
      engagement_id: id,
      run_id: runId,
      client_request_token: jobToken(id, runId),
      job_id: null,
      state: 'creating',
      role_arn: role,
      target_bucket: 't',
      manifest: {bucket: 'platform-shared', key: manifest.key, etag: '"e"', version_id: null},
      report: {bucket: 'platform-shared', prefix: 'p'},
      tasks: 3,
      bytes: 3,
    }
    s3Mock.on(ListObjectsV2Command).resolves({
      Contents: [
        {Key: `auditforge/batch-operations/${id}/${runId}/job.json`},
        {Key: `auditforge/batch-operations/${id}/${runId}/manifest.csv`},
      ],
    })
    s3Mock.on(GetObjectCommand).callsFake(() => ({Body: streamBody(JSON.stringify(creating)), ETag: '"s"'}))
    controlMock.on(CreateJobCommand).resolves({JobId: 'job-7'})

    const pending = await findPendingJob(jobContext(), id)

    expect(pending).toMatchObject({job_id: 'job-7', state: 'created', run_id: runId})
    expect(controlMock.commandCalls(CreateJobCommand).map((call) => call.args[0].input.ClientRequestToken)).toEqual([
      jobToken(id, runId),
    ])
    expect(controlMock.commandCalls(ListJobsCommand)).toHaveLength(0)
  })

  it('finds nothing when every earlier job was recorded, after looking at the active jobs', async () => {
    s3Mock.on(ListObjectsV2Command).resolves({Contents: [{Key: `auditforge/batch-operations/${id}/${runId}/job.json`}]})
    s3Mock
      .on(GetObjectCommand)
      .callsFake(() => ({Body: streamBody(JSON.stringify({state: 'consumed', job_id: 'job-1'})), ETag: '"s"'}))
    controlMock
      .on(ListJobsCommand)
      .resolves({Jobs: [{JobId: 'other', Description: 'auditforge migrate eng-ffffffffffff run x', Status: 'Active'}]})

    expect(await findPendingJob(jobContext(), id)).toBeUndefined()
    expect(controlMock.commandCalls(ListJobsCommand)[0].args[0].input).toMatchObject({
      AccountId: '123456789012',
      JobStatuses: expect.arrayContaining(['Active', 'Suspended', 'Preparing']),
    })
    expect(controlMock.commandCalls(CreateJobCommand)).toHaveLength(0)
  })
})

describe('waitForJob', () => {
  const state = {engagement_id: id, run_id: runId, job_id: 'job-1', tasks: 4, bytes: 400} as JobState
  const complete = {
    Job: {
      JobId: 'job-1',
      Status: 'Complete' as const,
      ProgressSummary: {
        TotalNumberOfTasks: 4,
        NumberOfTasksSucceeded: 4,
        NumberOfTasksFailed: 0,
        Timers: {ElapsedTimeInActiveSeconds: 8},
      },
    },
  }

  it("rides out TooManyRequests from DescribeJob and reports progress with the job's own estimate", async () => {
    controlMock
      .on(DescribeJobCommand)
      .rejectsOnce(controlError('TooManyRequestsException', 429))
      .resolvesOnce({
        Job: {
          JobId: 'job-1',
          Status: 'Active',
          ProgressSummary: {
            TotalNumberOfTasks: 4,
            NumberOfTasksSucceeded: 1,
            NumberOfTasksFailed: 1,
            Timers: {ElapsedTimeInActiveSeconds: 10},
          },
        },
      })
      .rejectsOnce(controlError('TooManyRequestsException', 429))
      .resolves(complete)
    const seen: BulkJobProgress[] = []

    const job = await waitForJob(jobContext(), state, (progress) => seen.push(progress))

    expect(job.Status).toBe('Complete')
    expect(seen[0]).toEqual({
      jobId: 'job-1',
      status: 'Active',
      tasks: 4,
      succeeded: 1,
      failed: 1,
      bytes: 400,
      remainingSeconds: 10,
    })
    expect(seen.at(-1)).toMatchObject({status: 'Complete', succeeded: 4, remainingSeconds: 0})
  })

  it('gives up on AccessDenied from DescribeJob at once', async () => {
    controlMock.on(DescribeJobCommand).rejects(controlError('AccessDenied', 403, 'Access Denied'))
    const error = await failure(waitForJob(jobContext(), state, () => {}))
    expect(error).toMatchObject({code: 'access_denied'})
    expect(error.message).toContain('Reading S3 Batch Operations job job-1')
    expect(controlMock.commandCalls(DescribeJobCommand)).toHaveLength(1)
  })

  it('a cancelled job is an error naming the job and the reason', async () => {
    controlMock
      .on(DescribeJobCommand)
      .resolves({Job: {JobId: 'job-1', Status: 'Cancelled', StatusUpdateReason: 'cancelled by the storage team'}})
    const error = await failure(waitForJob(jobContext(), state, () => {}))
    expect(error).toMatchObject({code: 'batch_job_cancelled', exit: ExitCode.failed})
    expect(error.message).toBe(`S3 Batch Operations job job-1 for ${id} was cancelled: cancelled by the storage team`)
  })
})

describe('waitForJob: a job that does not move', () => {
  const state = {engagement_id: id, run_id: runId, job_id: 'job-1', tasks: 4, bytes: 400} as JobState
  /** A clock that the watch's sleeps move forward. */
  function clockedContext(stallAfterMs: number) {
    let now = Date.parse('2026-01-02T03:04:05Z')
    return {
      ...jobContext(),
      pollIntervals: [60_000],
      stallAfterMs,
      now: () => new Date(now),
      sleep: async (ms: number) => void (now += ms),
    }
  }

  it.each(['Paused', 'Pausing', 'Cancelling', 'Preparing'] as const)(
    'stops watching a job %s with no change for the bound, naming it and what to do',
    async (status) => {
      controlMock.on(DescribeJobCommand).resolves({
        Job: {
          JobId: 'job-1',
          Status: status,
          ProgressSummary: {TotalNumberOfTasks: 4, NumberOfTasksSucceeded: 1, NumberOfTasksFailed: 0},
        },
      })
      const error = await failure(waitForJob(clockedContext(30 * 60_000), state, () => {}))
      expect(error).toMatchObject({code: 'batch_job_stalled', exit: ExitCode.failed})
      expect(error.message).toBe(
        `S3 Batch Operations job job-1 for ${id} has been ${status} with no progress for 30 minutes (1 of 4 tasks done); stopped watching it, the job itself is untouched and nothing was switched`,
      )
      expect(error.suggestion).toContain('--requested-job-status Cancelled')
      // One DescribeJob a minute: the first sets the mark, then 30 more minutes.
      expect(controlMock.commandCalls(DescribeJobCommand)).toHaveLength(31)
    },
  )

  it('keeps watching a slow job that makes progress, however long it takes', async () => {
    let succeeded = 0
    controlMock.on(DescribeJobCommand).callsFake(() => {
      succeeded++
      return {
        Job: {
          JobId: 'job-1',
          Status: succeeded >= 100 ? 'Complete' : 'Active',
          ProgressSummary: {TotalNumberOfTasks: 100, NumberOfTasksSucceeded: succeeded, NumberOfTasksFailed: 0},
        },
      }
    })
    const job = await waitForJob(clockedContext(30 * 60_000), state, () => {})
    expect(job.Status).toBe('Complete')
  })
})

describe('batchRolePolicies', () => {
  it('narrows every resource to one engagement when asked, and never grants s3:*', () => {
    const policies = batchRolePolicies({
      sharedBucket: 'platform-shared',
      accountId: '741783034843',
      bucketPrefix: 'metis-af-',
      engagementId: 'eng-6715f196fa40',
    })
    const text = JSON.stringify(policies.permission_policy)
    expect(text).toContain('arn:aws:s3:::platform-shared/auditforge/engagements/eng-6715f196fa40/*')
    expect(text).toContain('arn:aws:s3:::metis-af-6715f196fa40-741783034843/*')
    expect(text).not.toContain('metis-af-*')
    expect(text).not.toMatch(/s3:\*/)
    expect(policies.trust_policy.Statement[0]).toMatchObject({Principal: {Service: 'batchoperations.s3.amazonaws.com'}})
    expect(text).not.toContain('kms:')
  })

  it('grants the SSE-KMS keys named, and nothing of KMS otherwise; a key not given as an ARN is exit 2', () => {
    const key = 'arn:aws:kms:eu-west-1:741783034843:key/1234abcd-12ab-34cd-56ef-1234567890ab'
    const policies = batchRolePolicies({
      sharedBucket: 'platform-shared',
      accountId: '741783034843',
      bucketPrefix: 'metis-af-',
      kmsKeyArns: [key, key],
    })
    expect(policies.permission_policy.Statement).toContainEqual({
      Sid: 'UseEncryptionKeys',
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: [key],
    })
    for (const wrong of [
      'alias/audit',
      '1234abcd-12ab-34cd-56ef-1234567890ab',
      'arn:aws:kms:eu-west-1:741783034843:alias/audit',
    ]) {
      expect(() => validateKmsKeyArn(wrong)).toThrow(
        expect.objectContaining({exit: 2, message: expect.stringContaining('--kms-key-arn')}),
      )
    }
  })
})

describe('writtenByJob', () => {
  const entry = {key: 'k', size: 3, etag: '"e"', version_id: 'src-1', storage_class: null}
  const created = new Date('2026-01-02T03:04:05.678Z')
  const at = (iso: string) => new Date(iso)
  it('proves a version other than the one before the job, written since the job was created (to the second)', () => {
    expect(
      writtenByJob(
        {...entry, target_version_before: null},
        {key: 'k', size: 3, etag: '"x"', versionId: 'v2', lastModified: at('2026-01-02T03:04:05.000Z')},
        created,
      ),
    ).toBe(true)
    expect(
      writtenByJob(
        {...entry, target_version_before: 'v1'},
        {key: 'k', size: 3, etag: '"x"', versionId: 'v2', lastModified: at('2026-01-02T03:04:09.000Z')},
        created,
      ),
    ).toBe(true)
  })
  it('proves nothing for the version there before the job, one older than the job, or when the version before is unknown', () => {
    expect(
      writtenByJob(
        {...entry, target_version_before: 'v1'},
        {key: 'k', size: 3, etag: '"x"', versionId: 'v1', lastModified: at('2026-01-02T03:05:00.000Z')},
        created,
      ),
    ).toBe(false)
    expect(
      writtenByJob(
        {...entry, target_version_before: null},
        {key: 'k', size: 3, etag: '"x"', versionId: 'v2', lastModified: at('2026-01-02T03:04:04.999Z')},
        created,
      ),
    ).toBe(false)
    expect(
      writtenByJob(
        entry,
        {key: 'k', size: 3, etag: '"x"', versionId: 'v2', lastModified: at('2026-01-02T03:05:00.000Z')},
        created,
      ),
    ).toBe(false)
    expect(
      writtenByJob(
        {...entry, target_version_before: null},
        {key: 'k', size: 3, etag: '"x"', versionId: 'null', lastModified: at('2026-01-02T03:05:00.000Z')},
        created,
      ),
    ).toBe(false)
    expect(
      writtenByJob(
        {...entry, target_version_before: null},
        {key: 'k', size: 3, etag: '"x"', versionId: 'v2', lastModified: at('2026-01-02T03:05:00.000Z')},
        undefined,
      ),
    ).toBe(false)
  })
})
