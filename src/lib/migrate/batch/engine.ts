/**
 * The batch copy engine: an engagement's first copy pass handed to S3 Batch Operations. The pass
 * is the local one (copyPass: the same merge-join of source, target and evidence, the same proofs)
 * with a sink that takes the objects a job can copy into a manifest, in key order; what the job
 * cannot take (over 5 GiB, not STANDARD, no version id to pin it to) the local engine copies in the
 * same pass. Then one S3PutObjectCopy job, watched to its end, and its completion report turned
 * into evidence lines by a second merge-join: the sidecar (the manifest's source identities, in
 * key order), the target's current versions (the identities the job wrote) and the failed tasks
 * (the only thing held in memory, bounded). A failed task is retried once by the local engine;
 * what fails again is reported by key with S3's error code.
 */
import type {S3Client} from '@aws-sdk/client-s3'
import type {JobDescriptor, S3ControlClient} from '@aws-sdk/client-s3-control'

import {type AwsContext, createS3ControlClient} from '../../aws.js'
import {AuditforgeError, ExitCode} from '../../errors.js'
import {batchKeys} from '../../layout.js'
import {
  type CurrentVersion,
  type StoredChecksum,
  checksumOf,
  compareKeys,
  deleteCurrentObject,
  headObject,
  listLatestVersions,
  pinnableVersion,
} from '../../s3/index.js'
import {maxSingleCopyBytes} from '../copy.js'
import type {
  BulkCopyEngine,
  BulkOutcome,
  BulkPassContext,
  BulkSink,
  CopiedObject,
  CopyRequest,
  SourceObject,
} from '../engine.js'
import type {EvidenceLine} from '../evidence.js'
import {Cursor, orderedMap} from '../streams.js'
import {type Difference, type PassTotals, copyPass, md5Proves} from '../sync.js'
import {type JobContext, type JobState, findPendingJob, settleJob, startJob, waitForJob} from './jobs.js'
import {ManifestWriter, type SidecarEntry, readSidecar} from './manifest.js'
import {type TaskFailure, readFailures} from './report.js'
import {agree, plural} from '../../wording.js'

/** When `--engine auto` hands an engagement to Batch Operations: this many objects, or bytes, or more. */
export const autoThreshold = {objects: 1_000_000, bytes: 10 * 1024 ** 4}

export interface BatchEngineOptions {
  /** `batch`: every engagement; `auto`: those at or over `autoThreshold`. */
  choice: 'batch' | 'auto'
  /** The IAM role S3 Batch Operations runs the job as. */
  roleArn: string
  /** Where the job's completion report goes (default: the shared bucket). */
  reportBucket?: string
  autoThreshold?: {objects: number; bytes: number}
  /** Objects larger than this stay with the local engine. Default 5 GiB (CopyObject's limit, which the job is held to too). */
  maxObjectBytes?: number
  /** Waits between DescribeJob calls, in ms; the last repeats. */
  pollIntervals?: number[]
  sleep?: (ms: number) => Promise<void>
  now?: () => Date
  /** How long a job may show no change before the watch stops (default 1 hour). */
  stallAfterMs?: number
  /** The S3 Control client; made from the context's settings when not given. */
  control?: S3ControlClient
}

const defaultPollIntervals = [500, 1000, 2000, 4000, 8000, 15_000]

/** The batch engine for a run: see the module comment. */
export function createBatchEngine(
  context: AwsContext,
  sharedBucket: string,
  options: BatchEngineOptions,
): BulkCopyEngine {
  return new BatchCopyEngine(context, sharedBucket, options)
}

class BatchCopyEngine implements BulkCopyEngine {
  private control?: S3ControlClient

  constructor(
    private readonly context: AwsContext,
    private readonly sharedBucket: string,
    private readonly options: BatchEngineOptions,
  ) {}

  appliesTo(plan: {objects: number; bytes: number}): boolean {
    if (this.options.choice === 'batch') return true
    const threshold = this.options.autoThreshold ?? autoThreshold
    return plan.objects >= threshold.objects || plan.bytes >= threshold.bytes
  }

  async firstPass(pass: BulkPassContext): Promise<PassTotals & {bulk: BulkOutcome}> {
    const jobs = await this.jobContext()
    const id = pass.sides.engagementId
    const outcome: BulkOutcome = {
      engine: 'batch',
      job_id: null,
      reattached: false,
      tasks: 0,
      succeeded: 0,
      failed: 0,
      retried_locally: 0,
      copied_locally: 0,
    }

    // A job an interrupted run left: watched to its end and recorded; then verification decides
    // what is left, exactly as after this run's own job.
    const pending = await findPendingJob(jobs, id)
    if (pending) {
      const recorded = await this.finishJob(jobs, pass, pending, outcome)
      return {
        objects: 0,
        bytes: 0,
        copied: recorded.copied,
        proven: 0,
        removed: recorded.removed,
        differences: recorded.differences,
        differenceCount: recorded.differences.length,
        bulk: {...outcome, reattached: true},
      }
    }

    const writer = new ManifestWriter(this.context.s3, this.sharedBucket, id, pass.runId)
    const sink = new ManifestSink(
      this.context.s3,
      this.sharedBucket,
      {bucket: pass.sides.targetBucket, owner: pass.sides.owner},
      id,
      writer,
      this.options.maxObjectBytes ?? maxSingleCopyBytes,
    )
    let totals: PassTotals
    try {
      totals = await pass.withSegment((record) =>
        copyPass(pass.sides, {
          engine: pass.engine,
          record,
          recordProven: true,
          limit: pass.limit,
          onObject: pass.onObject,
          bulk: sink,
        }),
      )
    } catch (error) {
      await writer.abort()
      throw error
    } finally {
      await sink.close()
    }
    outcome.copied_locally = totals.copied
    const manifest = await writer.finish()
    if (!manifest) return {...totals, bulk: outcome}

    const reportBucket = this.options.reportBucket ?? this.sharedBucket
    await pass.checkpoint?.()
    const state = await startJob(jobs, {
      engagementId: id,
      runId: pass.runId,
      roleArn: this.options.roleArn,
      targetBucket: pass.sides.targetBucket,
      report: {bucket: reportBucket, prefix: batchKeys.reportPrefix(id, pass.runId)},
      manifest,
    })
    const recorded = await this.finishJob(jobs, pass, state, outcome)
    return {
      ...totals,
      copied: totals.copied + recorded.copied,
      removed: totals.removed + recorded.removed,
      differences: [...totals.differences, ...recorded.differences],
      differenceCount: totals.differenceCount + recorded.differences.length,
      bulk: outcome,
    }
  }

  /**
   * Watches the job to its end, records its copies as evidence, and marks its report consumed. A
   * finished job whose results cannot be used (no report, tasks unaccounted for, too many failed)
   * is marked abandoned with the reason, so the next run starts afresh instead of re-attaching to
   * it forever; its objects are then proven or copied again by identity, never assumed.
   */
  private async finishJob(
    jobs: JobContext,
    pass: BulkPassContext,
    state: JobState,
    outcome: BulkOutcome,
  ): Promise<Recorded> {
    outcome.job_id = state.job_id
    outcome.tasks = state.tasks
    let job: JobDescriptor
    try {
      job = await waitForJob(jobs, state, pass.onJob)
    } catch (error) {
      // A job that ended without finishing is not re-attached to: the next run starts a new one.
      if (
        error instanceof AuditforgeError &&
        (error.code === 'batch_job_failed' || error.code === 'batch_job_cancelled')
      )
        await settleJob(jobs, state, 'abandoned', error.message)
      throw error
    }
    outcome.succeeded = job.ProgressSummary?.NumberOfTasksSucceeded ?? 0
    outcome.failed = job.ProgressSummary?.NumberOfTasksFailed ?? 0
    let recorded: Recorded
    try {
      if (outcome.succeeded + outcome.failed !== state.tasks) {
        throw new AuditforgeError(
          `S3 Batch Operations job ${state.job_id} is complete but accounts for ${outcome.succeeded + outcome.failed} of its ${state.tasks} tasks`,
          {
            code: 'batch_job_incomplete',
            exit: ExitCode.failed,
            suggestion:
              'Nothing was switched. Run the migration again; it verifies what the job copied and copies the rest.',
          },
        )
      }
      recorded = await pass.withSegment((record) => this.recordJob(pass, state, job, outcome.failed, record))
    } catch (error) {
      if (error instanceof AuditforgeError && unusableJob.has(error.code))
        await settleJob(jobs, state, 'abandoned', error.message)
      throw error
    }
    outcome.retried_locally += recorded.retried
    if (recorded.failures.count > 0) {
      const listed = recorded.failures.listed.join('; ')
      const more =
        recorded.failures.count > recorded.failures.listed.length
          ? `; … and ${recorded.failures.count - recorded.failures.listed.length} more`
          : ''
      throw new AuditforgeError(
        `${plural(recorded.failures.count, 'object')} of ${state.engagement_id} ${agree(recorded.failures.count, 'was', 'were')} copied neither by S3 Batch Operations job ${state.job_id} nor by the local retry: ${listed}${more}`,
        {
          code: 'batch_tasks_failed',
          exit: ExitCode.failed,
          suggestion:
            'Nothing was switched. Fix the cause (the error codes above) and run the migration again; it retries only these objects.',
        },
      )
    }
    await settleJob(jobs, state, 'consumed')
    return recorded
  }

  /**
   * The job's evidence, in key order: the sidecar merge-joined with the target's current versions
   * and the failed tasks. A key without a failed task counts as copied by the job only when
   * identity proves it: the target's current version was written by the job (a version other
   * than the one there before the job, written since the job was created), or its stored
   * CRC64NVME checksum, or its single-part MD5 ETag (neither side SSE-KMS), equals the source
   * version's. Nothing is accepted on size. A task that failed, or an object not proven in the
   * target, is copied by the local engine instead (and so is every unproven object when the
   * report does not account for the failed tasks DescribeJob counts).
   */
  private async recordJob(
    pass: BulkPassContext,
    state: JobState,
    job: JobDescriptor,
    failedTasks: number,
    record: (line: EvidenceLine) => Promise<void>,
  ): Promise<Recorded> {
    const {s3} = this.context
    const {targetBucket, owner, engagementId} = pass.sides
    const failures = await readFailures(s3, state.report, state.job_id!)
    const trusted = failures.count === failedTasks
    const jobCreated = job.CreationTime ?? (state.created_at ? new Date(state.created_at) : undefined)
    const recorded: Recorded = {copied: 0, retried: 0, removed: 0, differences: [], failures: {count: 0, listed: []}}
    const targets = new Cursor(listLatestVersions(s3, targetBucket, engagementId, owner))
    type Item = {entry: SidecarEntry; target: CurrentVersion | undefined; failure: TaskFailure | undefined}
    const items = async function* (): AsyncGenerator<Item> {
      for await (const entry of readSidecar(s3, state.manifest.bucket, engagementId, state.run_id)) {
        const next = await targets.skipWhile((version) => compareKeys(version.key, entry.key) < 0)
        yield {
          entry,
          target: next?.key === entry.key ? await targets.take() : undefined,
          failure: failures.byKey.get(entry.key),
        }
      }
    }
    const work = async ({entry, target, failure}: Item): Promise<EvidenceLine | undefined> => {
      const source: SourceObject = {
        key: entry.key,
        size: entry.size,
        etag: entry.etag,
        versionId: entry.version_id,
        storageClass: entry.storage_class ?? undefined,
      }
      let current = target
      if (!failure) {
        // A key the version listing gives differently (some servers mangle control characters)
        // is read with a HeadObject instead.
        current ??= await pass.limit(() => currentVersion(s3, targetBucket, entry.key, owner))
        if (current && current.size === entry.size) {
          const found = current
          const proof = writtenByJob(entry, found, jobCreated)
            ? {checksum: null}
            : await pass.limit(() =>
                provenByIdentity(
                  s3,
                  {
                    bucket: pass.sides.sourceBucket,
                    key: entry.key,
                    versionId: entry.version_id,
                    etag: entry.etag,
                    size: entry.size,
                  },
                  {bucket: targetBucket, owner, version: found},
                ),
              )
          if (proof) {
            recorded.copied++
            pass.onObject({key: entry.key, size: entry.size, action: 'copied'})
            return evidenceLine(source, {
              etag: found.etag || null,
              versionId: nullVersion(found.versionId),
              checksum: proof.checksum,
            })
          }
        }
      }
      const why = failure
        ? `${failure.code}${failure.status ? ` ${failure.status}` : ''}${failure.message ? `: ${failure.message}` : ''}`
        : `${current ? 'not proven by identity in the target' : 'not in the target'} after the job${trusted ? '' : ` (its report lists ${plural(failures.count, 'failed task')}, DescribeJob counts ${failedTasks})`}`
      return pass.limit(() => this.retryLocally(pass, source, current !== undefined, why, recorded))
    }
    try {
      await orderedMap(
        items(),
        work,
        async (line) => {
          if (line) await record(line)
        },
        {window: 512, limit: (task) => task()},
      )
    } finally {
      await targets.close()
    }
    return recorded
  }

  /** One failed task, copied by the local engine; a second failure is collected, not thrown (the others still run). */
  private async retryLocally(
    pass: BulkPassContext,
    source: SourceObject,
    targetHasKey: boolean,
    why: string,
    recorded: Recorded,
  ): Promise<EvidenceLine | undefined> {
    try {
      const copied = await pass.engine.copy({source, targetHasKey})
      recorded.copied++
      recorded.retried++
      pass.onObject({key: source.key, size: copied.source.size, action: 'copied'})
      return evidenceLine(copied.source, copied.target)
    } catch (error) {
      if (error instanceof AuditforgeError && error.code === 'archived') {
        recorded.differences.push({
          key: source.key,
          kind: 'archived',
          source: source.storageClass ?? null,
          target: null,
          detail: error.message,
        })
        pass.onObject({key: source.key, size: source.size, action: 'archived'})
        return undefined
      }
      if (error instanceof AuditforgeError && error.code === 'source_vanished') {
        // Deleted from the source meanwhile: the target must not keep it either.
        if (!targetHasKey) return undefined
        const {s3} = this.context
        pass.sides.mayWrite?.()
        const marker = await deleteCurrentObject(s3, {
          bucket: pass.sides.targetBucket,
          key: source.key,
          expectedOwner: pass.sides.owner,
        })
        recorded.removed++
        return {
          ...evidenceLine({key: source.key, size: 0, etag: ''}, {etag: null, versionId: marker, checksum: null}),
          action: 'removed',
        }
      }
      recorded.failures.count++
      if (recorded.failures.listed.length < 20)
        recorded.failures.listed.push(
          `${source.key} (job: ${why}; local: ${error instanceof Error ? error.message : String(error)})`,
        )
      return undefined
    }
  }

  private async jobContext(): Promise<JobContext> {
    this.control ??= this.options.control ?? createS3ControlClient(this.context.settings, this.context.credentials)
    return {
      control: this.control,
      s3: this.context.s3,
      accountId: await this.context.accountId(),
      sharedBucket: this.sharedBucket,
      sleep: this.options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      pollIntervals: this.options.pollIntervals ?? defaultPollIntervals,
      now: this.options.now ?? (() => new Date()),
      stallAfterMs: this.options.stallAfterMs,
    }
  }
}

/** Errors of a finished job whose results cannot be used: the job is settled as abandoned. */
const unusableJob = new Set(['batch_report_missing', 'batch_job_incomplete', 'batch_tasks_failed'])

interface Recorded {
  copied: number
  retried: number
  removed: number
  differences: Difference[]
  /** Objects neither the job nor the local retry copied: counted, the first few described. */
  failures: {count: number; listed: string[]}
}

/**
 * Takes, in key order, the objects a job can copy exactly as the local engine would: STANDARD
 * objects up to `maxObjectBytes` whose current version (from a version listing of the source,
 * walked beside the pass) has a version id to pin the copy to and the listed ETag and size. A job
 * has no CopySourceIfMatch: the version id is what pins its copy to the listed source.
 *
 * Beside each one it records the target's current version id of the key before the job (from a
 * version listing of the target, opened only once a key the target holds comes along), so that a
 * version the job wrote can later be told from one that was there before it.
 */
class ManifestSink implements BulkSink {
  private readonly versions: Cursor<CurrentVersion>
  private targets?: Cursor<CurrentVersion>

  constructor(
    private readonly s3: S3Client,
    sourceBucket: string,
    private readonly target: {bucket: string; owner: string},
    private readonly engagementId: string,
    private readonly writer: ManifestWriter,
    private readonly maxObjectBytes: number,
  ) {
    this.versions = new Cursor(listLatestVersions(s3, sourceBucket, engagementId))
  }

  async take({source, targetHasKey}: CopyRequest): Promise<boolean> {
    if (source.size > this.maxObjectBytes || (source.storageClass !== undefined && source.storageClass !== 'STANDARD'))
      return false
    const version = await this.versions.skipWhile((candidate) => compareKeys(candidate.key, source.key) < 0)
    if (!version || version.key !== source.key || version.etag !== source.etag || version.size !== source.size)
      return false
    const versionId = pinnableVersion(version.versionId)
    if (versionId === undefined) return false
    await this.writer.add({...source, versionId}, targetHasKey ? await this.targetVersionBefore(source.key) : null)
    return true
  }

  /** The target's current version id of a key it holds ("null" unversioned); null when it turns out not to hold it. */
  private async targetVersionBefore(key: string): Promise<string | null> {
    this.targets ??= new Cursor(listLatestVersions(this.s3, this.target.bucket, this.engagementId, this.target.owner))
    const listed = await this.targets.skipWhile((candidate) => compareKeys(candidate.key, key) < 0)
    if (listed?.key === key) return listed.versionId ?? 'null'
    // A key the version listing gives differently (some servers mangle control characters).
    const head = await headObject(this.s3, {bucket: this.target.bucket, key, expectedOwner: this.target.owner})
    return head ? (head.VersionId ?? 'null') : null
  }

  async close(): Promise<void> {
    await Promise.all([this.versions.close(), this.targets?.close()])
  }
}

const nullVersion = (versionId: string | null | undefined) =>
  versionId === undefined || versionId === null || versionId === 'null' ? null : versionId

function evidenceLine(source: SourceObject, target: CopiedObject['target']): EvidenceLine {
  return {
    key: source.key,
    size: source.size,
    source_etag: source.etag || null,
    source_version_id: nullVersion(source.versionId),
    target_etag: target.etag,
    target_version_id: target.versionId,
    checksum_algorithm: target.checksum?.algorithm ?? null,
    checksum_type: target.checksum?.type ?? null,
    checksum_value: target.checksum?.value ?? null,
    action: 'copied',
  }
}

async function currentVersion(
  s3: S3Client,
  bucket: string,
  key: string,
  owner: string,
): Promise<CurrentVersion | undefined> {
  const head = await headObject(s3, {bucket, key, expectedOwner: owner})
  if (!head) return undefined
  return {
    key,
    size: head.ContentLength ?? 0,
    etag: head.ETag ?? '',
    versionId: head.VersionId,
    storageClass: head.StorageClass,
    lastModified: head.LastModified,
  }
}

/**
 * Whether the target's current version was written by the job: a version id other than the one
 * the target held before the job (recorded in the sidecar; unknown proves nothing), written no
 * earlier than the job was created (both by AWS's clocks; to the second, as listings give it).
 */
export function writtenByJob(entry: SidecarEntry, current: CurrentVersion, jobCreated: Date | undefined): boolean {
  if (entry.target_version_before === undefined || jobCreated === undefined || current.lastModified === undefined)
    return false
  const version = nullVersion(current.versionId)
  if (version === null || version === nullVersion(entry.target_version_before ?? undefined)) return false
  return current.lastModified.getTime() >= Math.floor(jobCreated.getTime() / 1000) * 1000
}

/**
 * Whether the target's version holds the source's bytes, by identity: equal stored CRC64NVME
 * full-object checksums, or equal single-part MD5 ETags with neither side SSE-KMS. Reads both
 * versions (HeadObject with checksums); the target's checksum comes back for the evidence.
 */
async function provenByIdentity(
  s3: S3Client,
  source: {bucket: string; key: string; versionId: string; etag: string; size: number},
  target: {bucket: string; owner: string; version: CurrentVersion},
): Promise<{checksum: StoredChecksum | null} | undefined> {
  const [s, t] = await Promise.all([
    headObject(s3, {bucket: source.bucket, key: source.key, versionId: source.versionId}, {checksums: true}),
    headObject(
      s3,
      {
        bucket: target.bucket,
        key: target.version.key,
        versionId: target.version.versionId,
        expectedOwner: target.owner,
      },
      {checksums: true},
    ),
  ])
  if (!s || !t || (s.ContentLength ?? -1) !== source.size || (t.ContentLength ?? -2) !== source.size) return undefined
  const [sourceSum, targetSum] = [checksumOf(s), checksumOf(t)]
  const fullCrc = (sum: StoredChecksum | null) =>
    sum?.algorithm === 'CRC64NVME' && (sum.type === null || sum.type === 'FULL_OBJECT')
  if (fullCrc(sourceSum) && fullCrc(targetSum) && sourceSum!.value === targetSum!.value) return {checksum: targetSum}
  const listed = {key: source.key, size: source.size, etag: source.etag}
  if (md5Proves(listed, {...listed, etag: t.ETag ?? ''}, s, t) && s.ETag === source.etag) return {checksum: targetSum}
  return undefined
}
