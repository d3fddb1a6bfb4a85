/**
 * Migration of engagements out of the shared platform bucket into their own buckets (seed 001).
 * Plan (read-only) → provision → copy what is missing or differs → verify → and only then the
 * conditional write of `source_bucket`. The source is never modified; a run can be interrupted
 * at any moment and run again.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  type S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3'
import pLimit from 'p-limit'

import type {AwsContext} from './aws.js'
import {bucketNameFor, provisionEngagementBucket} from './buckets.js'
import {EngagementIndex, type EngagementRecord} from './engagement-index.js'
import {AuditforgeError, ExitCode, attempt, describeAwsError, notFound} from './errors.js'
import {isEngagementId, ownsKey, validateEngagementId} from './layout.js'
import {type ObjectSummary, abortMultipartUploads, listEngagementObjects, readObjectTags} from './s3/index.js'

export type {ObjectSummary} from './s3/index.js'

export interface EngagementPlan {
  engagementId: string
  targetBucket: string
  objects: ObjectSummary[]
  bytes: number
}

export type SourceStatus = 'ok' | 'access_denied' | 'no_such_bucket'

export interface MigrationPlan {
  sourceBucket: string
  /** Not 'ok' when the shared bucket could not be read: then there is no plan (seed 001). */
  status: SourceStatus
  message?: string
  engagements: EngagementPlan[]
  /** Named engagement that already has its own bucket: nothing to do. */
  alreadyMigrated: EngagementRecord[]
  /** Index entries whose id auditforge cannot address safely; left alone. */
  invalidIds: string[]
}

export interface PlanOptions {
  engagementId?: string
  concurrency?: number
}

/** S3's CopyObject limit; larger objects need UploadPartCopy. */
export const maxSingleCopyBytes = 5 * 1024 ** 3

/**
 * Lists, for every engagement still in the shared bucket (or the one named), exactly its own
 * objects there: `auditforge/engagements/<id>/…`, legacy `auditforge/audit_logs/<id>/…`,
 * `auditforge/deliverables/<id>.<ext>`, `<id>-methodology.md` and its exports. The index, firm
 * branding and tenant corpora never move. Mutates nothing.
 * AccessDenied or NoSuchBucket on the shared bucket gives a plan with that status and no
 * engagements.
 */
export async function planMigration(context: AwsContext, sharedBucket: string, options: PlanOptions = {}): Promise<MigrationPlan> {
  if (options.engagementId !== undefined) validateEngagementId(options.engagementId)
  const empty = {sourceBucket: sharedBucket, engagements: [], alreadyMigrated: [], invalidIds: []}
  try {
    const records = await new EngagementIndex(context.s3, sharedBucket).list()
    // An id outside the accepted form cannot be matched to keys exactly, so it never moves.
    const invalidIds = records.filter((record) => !isEngagementId(record.engagement_id)).map((record) => record.engagement_id)
    let candidates = records.filter((record) => !record.source_bucket && isEngagementId(record.engagement_id))
    const alreadyMigrated: EngagementRecord[] = []
    if (options.engagementId !== undefined) {
      const record = records.find((candidate) => candidate.engagement_id === options.engagementId)
      if (!record) throw notFound(`No engagement ${options.engagementId} in the index of ${sharedBucket}`)
      if (record.source_bucket) alreadyMigrated.push(record)
      candidates = record.source_bucket ? [] : [record]
    }
    const limit = pLimit(options.concurrency ?? 8)
    const engagements = await Promise.all(
      candidates.map((record) =>
        limit(async (): Promise<EngagementPlan> => {
          const objects = await listOwnedObjects(context.s3, sharedBucket, record.engagement_id)
          return {
            engagementId: record.engagement_id,
            targetBucket: await bucketNameFor(context, record.engagement_id),
            objects,
            bytes: totalBytes(objects),
          }
        }),
      ),
    )
    return {...empty, status: 'ok', engagements, alreadyMigrated, invalidIds}
  } catch (error) {
    const status = sourceFailure(error)
    if (!status) throw error
    return {...empty, status, message: (error as AuditforgeError).message}
  }
}

function sourceFailure(error: unknown): SourceStatus | undefined {
  if (!(error instanceof AuditforgeError)) return undefined
  if (error.code === 'access_denied') return 'access_denied'
  if (error.code === 'no_such_bucket') return 'no_such_bucket'
  return undefined
}

/** Exactly the engagement's own current objects in a bucket, sorted by key. */
export const listOwnedObjects = listEngagementObjects

export function totalBytes(objects: readonly ObjectSummary[]): number {
  return objects.reduce((sum, object) => sum + object.size, 0)
}

/** Whether a target object holds the same content as the source, as far as listings can tell. */
export function sameObject(source: ObjectSummary, target: ObjectSummary | undefined): boolean {
  if (!target || target.size !== source.size) return false
  // An ETag is an MD5 only for single-part objects; a multipart ETag ("…-N") says nothing
  // about content, and a multipart copy of a single-part object gets one.
  const comparable = (etag?: string) => etag !== undefined && !etag.includes('-')
  if (comparable(source.etag) && comparable(target.etag)) return source.etag === target.etag
  return true
}

/** What differs between what should be in the target and what is; empty when they match. */
export function compareObjects(expected: readonly ObjectSummary[], actual: readonly ObjectSummary[], options: {extraIsDifference: boolean}): string[] {
  const differences: string[] = []
  const actualByKey = new Map(actual.map((object) => [object.key, object]))
  for (const object of expected) {
    const found = actualByKey.get(object.key)
    if (!found) differences.push(`missing in target: ${object.key}`)
    else if (found.size !== object.size) differences.push(`size differs: ${object.key} (source ${object.size} B, target ${found.size} B)`)
    else if (!sameObject(object, found)) differences.push(`checksum differs: ${object.key} (source ${object.etag}, target ${found.etag})`)
  }
  if (options.extraIsDifference) {
    const expectedKeys = new Set(expected.map((object) => object.key))
    for (const object of actual) if (!expectedKeys.has(object.key)) differences.push(`not in source: ${object.key}`)
  }
  return differences
}

export type MigrationStatus = 'planned' | 'migrated' | 'already_migrated' | 'verified' | 'verification_failed' | 'failed'

export interface EngagementOutcome {
  engagement_id: string
  target_bucket: string
  objects: number
  bytes: number
  status: MigrationStatus
  copied: number
  skipped_existing: number
  differences?: string[]
  error?: string
}

export interface MigrationProgress {
  engagementId: string
  phase: 'provision' | 'list' | 'copy' | 'verify' | 'record'
  objectsDone: number
  objectsTotal: number
  bytesDone: number
  bytesTotal: number
}

export interface ExecuteOptions {
  /** Copies in flight at once, across all engagements of a run. */
  concurrency?: number
  /** Engagements migrated at once (each provisions, lists and verifies on its own). */
  engagementConcurrency?: number
  onProgress?: (progress: MigrationProgress) => void
  /** Objects larger than this are copied part by part (UploadPartCopy). Injectable for tests. */
  multipartThreshold?: number
  partSize?: number
}

/**
 * Migrates one planned engagement: provisions its bucket with every control, lists the target
 * once, server-side copies only the keys that are missing or differ (content type, user
 * metadata and tags preserved; large objects part by part), re-lists the source for keys that
 * appeared after the plan and copies those too, verifies the target against everything that
 * was copied, and only then points the record at the new bucket with a conditional write.
 * A verification mismatch leaves the record untouched and reports the differences.
 */
export async function migrateEngagement(
  context: AwsContext,
  sharedBucket: string,
  plan: EngagementPlan,
  options: ExecuteOptions = {},
  copyLimit: ReturnType<typeof pLimit> = pLimit(options.concurrency ?? 16),
): Promise<EngagementOutcome> {
  const {s3} = context
  const owner = await context.accountId()
  const id = plan.engagementId
  const outcome: EngagementOutcome = {
    engagement_id: id,
    target_bucket: plan.targetBucket,
    objects: plan.objects.length,
    bytes: plan.bytes,
    status: 'failed',
    copied: 0,
    skipped_existing: 0,
  }
  const progress = {engagementId: id, objectsDone: 0, objectsTotal: plan.objects.length, bytesDone: 0, bytesTotal: plan.bytes}
  const report = (phase: MigrationProgress['phase']) => options.onProgress?.({...progress, phase})

  report('provision')
  const {bucket} = await provisionEngagementBucket(context, id)
  await abortStaleUploads(s3, bucket, owner, id)

  report('list')
  const target = new Map((await listOwnedObjects(s3, bucket, id, owner)).map((object) => [object.key, object]))
  const copier = new ObjectCopier(s3, sharedBucket, bucket, owner, options, copyLimit)

  // First the plan; then, until a fresh listing of the source matches the target, whatever
  // appeared or changed in the source since (the application may still be writing).
  let current = plan.objects
  for (let round = 0; round < 5; round++) {
    const toCopy = current.filter((object) => !sameObject(object, target.get(object.key)))
    if (round === 0) {
      outcome.skipped_existing = current.length - toCopy.length
      progress.objectsDone = outcome.skipped_existing
      progress.bytesDone = plan.bytes - totalBytes(toCopy)
    } else {
      progress.objectsTotal += toCopy.length
      progress.bytesTotal += totalBytes(toCopy)
    }
    if (round > 0 && toCopy.length === 0) break
    report('copy')
    await copier.copyAll(toCopy, (object, landed) => {
      target.set(object.key, landed)
      outcome.copied++
      progress.objectsDone++
      progress.bytesDone += object.size
      report('copy')
    })
    current = await listOwnedObjects(s3, sharedBucket, id)
  }
  const expected = current

  report('verify')
  const landed = await listOwnedObjects(s3, bucket, id, owner)
  const differences = compareObjects(expected, landed, {extraIsDifference: true})
  outcome.objects = expected.length
  outcome.bytes = totalBytes(expected)
  if (landed.length !== expected.length || totalBytes(landed) !== outcome.bytes) {
    differences.push(`target holds ${landed.length} objects, ${totalBytes(landed)} B; planned ${expected.length} objects, ${outcome.bytes} B`)
  }
  if (differences.length > 0) return {...outcome, status: 'verification_failed', differences}

  report('record')
  await new EngagementIndex(s3, sharedBucket).setSourceBucket(id, bucket, '')
  return {...outcome, status: 'migrated'}
}

/** Multipart copies that an interrupted run left behind in the target (every page of them). */
async function abortStaleUploads(s3: S3Client, bucket: string, owner: string, engagementId: string): Promise<void> {
  await abortMultipartUploads(s3, {bucket, expectedOwner: owner, select: (key) => ownsKey(engagementId, key)})
}

/** `bucket/key` for CopySource: the key URL-encoded, slashes kept. */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`
}

/** Server-side copies from the shared bucket to one engagement bucket, a bounded number at once. */
class ObjectCopier {
  private readonly limit: ReturnType<typeof pLimit>
  private readonly threshold: number
  private readonly partSize: number

  constructor(
    private readonly s3: S3Client,
    private readonly source: string,
    private readonly target: string,
    private readonly owner: string,
    options: ExecuteOptions,
    limit: ReturnType<typeof pLimit>,
  ) {
    this.limit = limit
    this.threshold = options.multipartThreshold ?? maxSingleCopyBytes
    this.partSize = options.partSize ?? 512 * 1024 ** 2
  }

  /**
   * Copies every object, reporting each with what now stands in the target. The first failure
   * stops what has not started yet and is rethrown once the copies under way have finished.
   */
  async copyAll(objects: readonly ObjectSummary[], onCopied: (object: ObjectSummary, landed: ObjectSummary) => void): Promise<void> {
    let failed = false
    const results = await Promise.allSettled(
      objects.map((object) =>
        this.limit(async () => {
          if (failed) throw new Error('skipped after an earlier failure')
          const etag = await (object.size > this.threshold ? this.copyInParts(object) : this.copy(object))
          onCopied(object, {key: object.key, size: object.size, etag})
        }).catch((error: unknown) => {
          failed = true
          throw error
        }),
      ),
    )
    const rejected = results.find((result) => result.status === 'rejected')
    if (rejected) throw (rejected as PromiseRejectedResult).reason
  }

  /** Returns the new object's ETag. */
  private async copy(object: ObjectSummary): Promise<string | undefined> {
    // MetadataDirective and TaggingDirective default to COPY: content type, user metadata and
    // tags come along with the bytes.
    const reply = await attempt({action: 'Copying', bucket: this.target, key: object.key}, () =>
      this.s3.send(
        new CopyObjectCommand({
          Bucket: this.target,
          Key: object.key,
          CopySource: copySource(this.source, object.key),
          ExpectedBucketOwner: this.owner,
          ExpectedSourceBucketOwner: this.owner,
        }),
      ),
    )
    return reply.CopyObjectResult?.ETag
  }

  /** Returns the new object's ETag (a multipart one, "…-N"). */
  private async copyInParts(object: ObjectSummary): Promise<string | undefined> {
    const context = {action: 'Copying in parts', bucket: this.target, key: object.key}
    const [head, tagging] = await Promise.all([
      attempt({action: 'Reading object metadata', bucket: this.source, key: object.key}, () =>
        this.s3.send(new HeadObjectCommand({Bucket: this.source, Key: object.key, ExpectedBucketOwner: this.owner})),
      ),
      readObjectTags(this.s3, {bucket: this.source, key: object.key, expectedOwner: this.owner}),
    ])
    const tags = [...tagging].map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&')
    const upload = await attempt(context, () =>
      this.s3.send(
        new CreateMultipartUploadCommand({
          Bucket: this.target,
          Key: object.key,
          ExpectedBucketOwner: this.owner,
          ContentType: head.ContentType,
          ContentEncoding: head.ContentEncoding,
          ContentDisposition: head.ContentDisposition,
          ContentLanguage: head.ContentLanguage,
          CacheControl: head.CacheControl,
          Metadata: head.Metadata,
          Tagging: tags || undefined,
        }),
      ),
    )
    try {
      const parts: {PartNumber: number; ETag?: string}[] = []
      for (let start = 0, number = 1; start < object.size; start += this.partSize, number++) {
        const end = Math.min(start + this.partSize, object.size) - 1
        const part = await attempt(context, () =>
          this.s3.send(
            new UploadPartCopyCommand({
              Bucket: this.target,
              Key: object.key,
              UploadId: upload.UploadId!,
              PartNumber: number,
              CopySource: copySource(this.source, object.key),
              CopySourceRange: `bytes=${start}-${end}`,
              // The part must come from the very version that was measured.
              CopySourceIfMatch: object.etag,
              ExpectedBucketOwner: this.owner,
              ExpectedSourceBucketOwner: this.owner,
            }),
          ),
        )
        parts.push({PartNumber: number, ETag: part.CopyPartResult!.ETag})
      }
      const completed = await attempt(context, () =>
        this.s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.target,
            Key: object.key,
            UploadId: upload.UploadId!,
            MultipartUpload: {Parts: parts},
            ExpectedBucketOwner: this.owner,
          }),
        ),
      )
      return completed.ETag
    } catch (error) {
      await this.s3
        .send(new AbortMultipartUploadCommand({Bucket: this.target, Key: object.key, UploadId: upload.UploadId!, ExpectedBucketOwner: this.owner}))
        .catch(() => {})
      throw describeAwsError(error, context)
    }
  }
}

/** A migrated engagement's own objects in the shared bucket and in its own bucket. */
async function listBothSides(context: AwsContext, sharedBucket: string, record: EngagementRecord): Promise<{source: ObjectSummary[]; target: ObjectSummary[]}> {
  const owner = await context.accountId()
  const [source, target] = await Promise.all([
    listOwnedObjects(context.s3, sharedBucket, record.engagement_id),
    listOwnedObjects(context.s3, record.source_bucket, record.engagement_id, owner),
  ])
  return {source, target}
}

export interface VerifyOutcome {
  engagement_id: string
  target_bucket: string
  objects: number
  bytes: number
  status: 'verified' | 'verification_failed'
  differences: string[]
}

/**
 * Compares a migrated engagement's keys in the shared bucket with its own bucket, copying
 * nothing. Objects written to the target since the migration are not differences; a source key
 * missing from the target, or of another size or checksum, is.
 */
export async function verifyMigratedEngagement(context: AwsContext, sharedBucket: string, record: EngagementRecord): Promise<VerifyOutcome> {
  const id = record.engagement_id
  const {source, target} = await listBothSides(context, sharedBucket, record)
  const differences = compareObjects(source, target, {extraIsDifference: false})
  return {
    engagement_id: id,
    target_bucket: record.source_bucket,
    objects: source.length,
    bytes: totalBytes(source),
    status: differences.length > 0 ? 'verification_failed' : 'verified',
    differences,
  }
}

/**
 * Migrates every engagement of a plan, a few at once, sharing one pool of copies so the
 * server is kept busy while an engagement provisions or verifies. One engagement's failure is
 * recorded in its outcome and the others still run; engagements the plan found already
 * migrated are reported as such and left alone.
 */
export async function executeMigration(
  context: AwsContext,
  plan: MigrationPlan,
  options: ExecuteOptions = {},
): Promise<EngagementOutcome[]> {
  const copyLimit = pLimit(options.concurrency ?? 16)
  const engagementLimit = pLimit(options.engagementConcurrency ?? 4)
  // Progress across the whole run: the sum of every engagement's latest snapshot.
  const latest = new Map<string, MigrationProgress>()
  const onProgress = options.onProgress && ((snapshot: MigrationProgress) => {
    latest.set(snapshot.engagementId, snapshot)
    const all = [...latest.values()]
    const add = (field: 'objectsDone' | 'objectsTotal' | 'bytesDone' | 'bytesTotal') => all.reduce((total, item) => total + item[field], 0)
    options.onProgress!({...snapshot, objectsDone: add('objectsDone'), objectsTotal: add('objectsTotal'), bytesDone: add('bytesDone'), bytesTotal: add('bytesTotal')})
  })
  for (const engagement of plan.engagements) {
    latest.set(engagement.engagementId, {engagementId: engagement.engagementId, phase: 'provision', objectsDone: 0, objectsTotal: engagement.objects.length, bytesDone: 0, bytesTotal: engagement.bytes})
  }

  const migrated = await Promise.all(
    plan.engagements.map((engagement) =>
      engagementLimit(async (): Promise<EngagementOutcome> => {
        try {
          return await migrateEngagement(context, plan.sourceBucket, engagement, {...options, onProgress}, copyLimit)
        } catch (error) {
          return {
            ...plannedOutcome(engagement),
            status: 'failed',
            error: describeAwsError(error, {action: `Migrating ${engagement.engagementId}`}).message,
          }
        }
      }),
    ),
  )
  return [...plan.alreadyMigrated.map((record) => alreadyMigrated(record)), ...migrated]
}

export function plannedOutcome(engagement: EngagementPlan): EngagementOutcome {
  return {
    engagement_id: engagement.engagementId,
    target_bucket: engagement.targetBucket,
    objects: engagement.objects.length,
    bytes: engagement.bytes,
    status: 'planned',
    copied: 0,
    skipped_existing: 0,
  }
}

export function alreadyMigrated(record: EngagementRecord): EngagementOutcome {
  return {
    engagement_id: record.engagement_id,
    target_bucket: record.source_bucket,
    objects: 0,
    bytes: 0,
    status: 'already_migrated',
    copied: 0,
    skipped_existing: 0,
  }
}

/**
 * The engagements `--verify-only` checks: every migrated one, or the one named. A named
 * engagement that was never migrated fails verification: there is no target to compare.
 */
export async function verifyMigrations(context: AwsContext, sharedBucket: string, engagementId?: string): Promise<VerifyOutcome[]> {
  const records = await new EngagementIndex(context.s3, sharedBucket).list()
  let selected = records.filter((record) => record.source_bucket)
  if (engagementId !== undefined) {
    const record = records.find((candidate) => candidate.engagement_id === validateEngagementId(engagementId))
    if (!record) throw notFound(`No engagement ${engagementId} in the index of ${sharedBucket}`)
    if (!record.source_bucket) {
      return [{engagement_id: engagementId, target_bucket: '', objects: 0, bytes: 0, status: 'verification_failed', differences: ['not migrated: source_bucket is empty']}]
    }
    selected = [record]
  }
  const outcomes: VerifyOutcome[] = []
  for (const record of selected) outcomes.push(await verifyMigratedEngagement(context, sharedBucket, record))
  return outcomes
}

export interface RollbackResult {
  engagement_id: string
  previous_source_bucket: string
  source_bucket: ''
  /** Objects in the engagement's bucket that the shared bucket lacks or holds older. */
  newer_in_bucket: string[]
}

/**
 * What a rollback would hide: keys in the engagement's own bucket (written since the
 * migration) that the shared bucket lacks or holds with other content.
 */
export async function rollbackRisk(context: AwsContext, sharedBucket: string, record: EngagementRecord): Promise<string[]> {
  const {source, target} = await listBothSides(context, sharedBucket, record)
  const inShared = new Map(source.map((object) => [object.key, object]))
  return target.filter((object) => !sameObject(object, inShared.get(object.key))).map((object) => object.key)
}

/** Points the engagement back at the shared bucket; touches no object. */
export async function rollbackMigration(context: AwsContext, sharedBucket: string, engagementId: string): Promise<EngagementRecord> {
  return new EngagementIndex(context.s3, sharedBucket).setSourceBucket(engagementId, '')
}

/** The `--json` document of `auditforge migrate`, in every mode. */
export interface MigrationReport {
  source_bucket: string
  status: SourceStatus
  mode: 'plan' | 'execute' | 'verify'
  engagements: (EngagementOutcome | VerifyOutcome)[]
  totals: {engagements: number; objects: number; bytes: number; copied: number; skipped_existing: number}
}

/** The report with its totals; engagements already migrated are listed but not counted. */
export function migrationReport(
  sourceBucket: string,
  status: SourceStatus,
  mode: MigrationReport['mode'],
  engagements: (EngagementOutcome | VerifyOutcome)[],
): MigrationReport {
  const counted = engagements.filter((outcome) => outcome.status !== 'already_migrated')
  const add = (value: (outcome: EngagementOutcome | VerifyOutcome) => number) => counted.reduce((total, outcome) => total + value(outcome), 0)
  return {
    source_bucket: sourceBucket,
    status,
    mode,
    engagements,
    totals: {
      engagements: counted.length,
      objects: add((outcome) => outcome.objects),
      bytes: add((outcome) => outcome.bytes),
      copied: add((outcome) => ('copied' in outcome ? outcome.copied : 0)),
      skipped_existing: add((outcome) => ('skipped_existing' in outcome ? outcome.skipped_existing : 0)),
    },
  }
}

/** 4 when any engagement failed verification, else 1 when any failed otherwise, else 0. */
export function migrationExitCode(outcomes: readonly {status: string}[]): 0 | 1 | 4 {
  if (outcomes.some((outcome) => outcome.status === 'verification_failed')) return ExitCode.verificationFailed
  if (outcomes.some((outcome) => outcome.status === 'failed')) return ExitCode.failed
  return ExitCode.ok
}
