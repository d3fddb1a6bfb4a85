/**
 * Decommissioning a per-engagement bucket: the preflight that says it may go, the tombstone
 * that records its name, and emptying and deleting it.
 */
import {
  DeleteBucketCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
} from '@aws-sdk/client-s3'
import pLimit from 'p-limit'

import type {AwsContext} from '../aws.js'
import {AuditforgeError, awsErrorCode, describeAwsError, httpStatus, notFound, refused} from '../errors.js'
import {validateBucketName} from '../layout.js'
import {
  type DeleteProgress,
  abortMultipartUploads,
  deleteObjectVersions,
  headObject,
  listObjectVersions,
  readBucketSetting,
  readBucketTags,
} from '../s3/index.js'
import {parsePerEngagementBucket} from './names.js'
import {assertBoundTo, engagementIdTagKey, indexTagKey, managedByTag} from './tags.js'
import {recordTombstone} from './tombstones.js'
import type {BucketDecommissioned} from '../../results/bucket.js'
import {takeOffTrail} from './trail.js'
import {plural} from '../wording.js'

/** What a decommission removed (the `bucket decommission` result without its preflight). */
export type DecommissionResult = Omit<BucketDecommissioned, 'dry_run' | 'preflight' | 'status' | 'error'>

/**
 * Empties and deletes a per-engagement bucket: every object version and delete marker
 * (DeleteObjects, 1000 keys a batch, several in flight), every incomplete multipart upload,
 * then DeleteBucket. Safe to run again after an interruption. Callers check that the bucket
 * may be removed first ({@link assertDecommissionable}).
 */
export async function decommissionBucket(
  context: AwsContext,
  bucket: string,
  options: {onProgress?: (progress: DeleteProgress) => void; concurrency?: number} = {},
): Promise<DecommissionResult> {
  const owner = await context.accountId()
  const {s3} = context
  let deleted = 0
  let uploadsAborted = 0
  // Writes racing the decommission can refill the bucket; a few passes settle it.
  for (let pass = 1; ; pass++) {
    const emptied = await deleteObjectVersions(s3, listObjectVersions(s3, {bucket, expectedOwner: owner}), {
      bucket,
      expectedOwner: owner,
      concurrency: options.concurrency,
      onProgress: (progress) => options.onProgress?.({deleted: deleted + progress.deleted}),
    })
    deleted += emptied.deleted
    uploadsAborted += await abortMultipartUploads(s3, {bucket, expectedOwner: owner})
    try {
      await s3.send(new DeleteBucketCommand({Bucket: bucket, ExpectedBucketOwner: owner}))
      return {bucket, deleted, uploads_aborted: uploadsAborted, trail_selector: null}
    } catch (error) {
      if (awsErrorCode(error) === 'NoSuchBucket')
        return {bucket, deleted, uploads_aborted: uploadsAborted, trail_selector: null}
      if (awsErrorCode(error) !== 'BucketNotEmpty' || pass === 3)
        throw describeAwsError(error, {action: 'Deleting the bucket', bucket})
    }
  }
}

export interface DecommissionChecks {
  /**
   * Whether a bucket without an index binding may go: only where the caller has other proof
   * that it belongs to this index (a record of this index pointed at it).
   */
  unboundOk?: boolean
  /** The engagement whose bucket it must be (by name and by tag); by default, the one its name says. */
  engagementId?: string
}

/** One check of the preflight: what was checked, whether it lets the decommission go ahead, what was found. */
export interface PreflightCheck {
  check:
    | 'owner'
    | 'records'
    | 'managed-by'
    | 'engagement-tag'
    | 'index-binding'
    | 'object-lock'
    | 'legal-hold'
    | 'retention'
    | 'mfa-delete'
  ok: boolean
  detail: string
}

export interface DecommissionPreflight {
  bucket: string
  engagementId: string
  ok: boolean
  /** The checks made, in order; an identity check that refuses the bucket is the last. */
  checks: PreflightCheck[]
  /** Why a check of the bucket's identity refuses it (it is then the failing last check); null when none does. */
  refusal: AuditforgeError | null
}

/** How many versions of a locked bucket are looked at for legal holds and retention. */
const lockScanLimit = 1000

/**
 * Everything that must hold before a single object of the bucket is removed, check by check,
 * changing nothing. Refused at once (exit 5), before any check: the shared bucket and a name not
 * of the per-engagement form; a bucket that does not exist is exit 3. Then the bucket's identity,
 * where the first check that fails ends the preflight (it is the last of `checks`, and `refusal`
 * says why): a bucket of another account, one a record still points at, one auditforge did not
 * tag as its own, one whose name and engagement tag disagree, one bound to another index or
 * (unless the caller says otherwise) to none. Then what would make S3 refuse to delete its
 * versions, each reported: Object Lock enabled, versions under legal hold or unexpired
 * retention, MFA delete. {@link clearanceFailure} says whether anything blocks it.
 */
export async function inspectDecommission(
  context: AwsContext,
  bucket: string,
  sharedBucket: string,
  pointingRecords: string[],
  checks: DecommissionChecks = {},
): Promise<DecommissionPreflight> {
  validateBucketName(bucket)
  if (bucket === sharedBucket) throw refused(`${bucket} is the shared platform bucket; it is never decommissioned`)
  const parsed = parsePerEngagementBucket(context, bucket)
  const owner = await context.accountId()
  const found: PreflightCheck[] = []
  const blocked = (check: PreflightCheck['check'], refusal: AuditforgeError): DecommissionPreflight => ({
    bucket,
    engagementId: parsed.engagementId,
    ok: false,
    checks: [...found, {check, ok: false, detail: refusal.message}],
    refusal,
  })
  if (parsed.accountId !== owner)
    return blocked('owner', refused(`${bucket} belongs to account ${parsed.accountId}, not ${owner}`))
  if (pointingRecords.length > 0) {
    return blocked(
      'records',
      refused(
        `${bucket} is still the bucket of ${pointingRecords.join(', ')}`,
        `Delete the engagement (\`auditforge engagement delete ${pointingRecords[0]}\`) or roll it back first.`,
      ),
    )
  }
  const notOwned = await ownershipRefusal(context, bucket, owner)
  if (notOwned) return blocked('owner', notOwned)
  found.push(
    {check: 'owner', ok: true, detail: `account ${owner}`},
    {check: 'records', ok: true, detail: 'no engagement record points at it'},
  )
  let tags: Map<string, string>
  try {
    tags = await readBucketTags(context.s3, bucket, owner)
  } catch (error) {
    if (error instanceof AuditforgeError && error.code === 'no_such_bucket')
      throw notFound(`The bucket ${bucket} does not exist`)
    throw error
  }
  if (tags.get(managedByTag.Key!) !== managedByTag.Value) {
    return blocked(
      'managed-by',
      refused(
        `${bucket} is not tagged ${managedByTag.Key}=${managedByTag.Value}; auditforge only removes buckets it manages`,
        `If it is an auditforge bucket, run \`auditforge bucket verify ${bucket} --fix\` first.`,
      ),
    )
  }
  found.push({check: 'managed-by', ok: true, detail: `${managedByTag.Key}=${managedByTag.Value}`})
  // The bucket's name and its engagement tag must agree (and with the engagement being deleted).
  const expected = checks.engagementId ?? parsed.engagementId
  if (tags.get(engagementIdTagKey) !== expected || parsed.engagementId !== expected) {
    return blocked(
      'engagement-tag',
      refused(
        `${bucket} is not tagged ${engagementIdTagKey}=${expected}; nothing proves whose bucket it is, so it was left untouched`,
      ),
    )
  }
  found.push({check: 'engagement-tag', ok: true, detail: `${engagementIdTagKey}=${expected}, as its name says`})
  const binding = tags.get(indexTagKey)
  try {
    assertBoundTo(bucket, binding, sharedBucket, {
      unboundOk: checks.unboundOk ?? false,
      engagementId: parsed.engagementId,
    })
  } catch (error) {
    if (!(error instanceof AuditforgeError)) throw error
    return blocked('index-binding', error)
  }
  found.push(
    {
      check: 'index-binding',
      ok: true,
      detail: binding === undefined ? 'not bound; a record of this index pointed at it' : `${indexTagKey}=${binding}`,
    },
    ...(await retentionChecks(context, bucket, owner)),
  )
  return {
    bucket,
    engagementId: parsed.engagementId,
    ok: found.every((check) => check.ok),
    checks: found,
    refusal: null,
  }
}

/**
 * {@link inspectDecommission}, refusing at once (exit 5) a bucket whose identity check fails; the
 * preflight otherwise, blocked or not.
 */
export async function preflightDecommission(
  context: AwsContext,
  bucket: string,
  sharedBucket: string,
  pointingRecords: string[],
  checks: DecommissionChecks = {},
): Promise<DecommissionPreflight> {
  const preflight = await inspectDecommission(context, bucket, sharedBucket, pointingRecords, checks)
  if (preflight.refusal) throw preflight.refusal
  return preflight
}

/**
 * Refuses (exit 5) to decommission a bucket the preflight does not clear, naming what blocks
 * it; returns the preflight when it does. A bucket that does not exist is exit 3.
 */
export async function assertDecommissionable(
  context: AwsContext,
  bucket: string,
  sharedBucket: string,
  pointingRecords: string[],
  checks: DecommissionChecks = {},
): Promise<DecommissionPreflight> {
  const preflight = await preflightDecommission(context, bucket, sharedBucket, pointingRecords, checks)
  assertCleared(preflight)
  return preflight
}

/**
 * Why the preflight does not clear the bucket (exit 5): the identity check that refused it, or
 * every blocking check named; undefined when nothing blocks it.
 */
export function clearanceFailure(preflight: DecommissionPreflight): AuditforgeError | undefined {
  if (preflight.refusal) return preflight.refusal
  const blocking = preflight.checks.filter((check) => !check.ok)
  if (blocking.length === 0) return undefined
  return refused(
    `${preflight.bucket} cannot be emptied: ${blocking.map((check) => `${check.check}: ${check.detail}`).join('; ')}; nothing was deleted`,
    'Objects under Object Lock, legal hold or MFA delete are removed only by someone who may lift those; auditforge does not.',
  )
}

/** Refuses (exit 5) a preflight with any blocking check, naming each. */
export function assertCleared(preflight: DecommissionPreflight): void {
  const failure = clearanceFailure(preflight)
  if (failure) throw failure
}

/** HeadBucket with the expected owner: 404 is exit 3, 403 (another account's, or not readable) the refusal returned. */
async function ownershipRefusal(
  context: AwsContext,
  bucket: string,
  owner: string,
): Promise<AuditforgeError | undefined> {
  try {
    await context.s3.send(new HeadBucketCommand({Bucket: bucket, ExpectedBucketOwner: owner}))
    return undefined
  } catch (error) {
    const status = httpStatus(error)
    if (status === 404) throw notFound(`The bucket ${bucket} does not exist`)
    if (status === 403)
      return refused(`${bucket} is not a bucket of account ${owner} (or it cannot be read); it was left untouched`)
    throw describeAwsError(error, {action: 'Checking the bucket', bucket})
  }
}

/** Object Lock, legal holds, unexpired retention and MFA delete: what would make S3 refuse the deletes. */
async function retentionChecks(context: AwsContext, bucket: string, owner: string): Promise<PreflightCheck[]> {
  const {s3} = context
  const location = {Bucket: bucket, ExpectedBucketOwner: owner}
  const [lock, versioning] = await Promise.all([
    readBucketSetting(bucket, 'Reading the Object Lock configuration', ['ObjectLockConfigurationNotFoundError'], () =>
      s3.send(new GetObjectLockConfigurationCommand(location)),
    ),
    readBucketSetting(bucket, 'Reading versioning', [], () => s3.send(new GetBucketVersioningCommand(location))),
  ])
  const configuration = lock?.ObjectLockConfiguration
  const locked = configuration?.ObjectLockEnabled === 'Enabled'
  const retention = configuration?.Rule?.DefaultRetention
  const defaultRetention = retention
    ? ` (default retention ${retention.Mode} ${retention.Days ? `${retention.Days} days` : `${retention.Years} years`})`
    : ''
  const mfaDelete = versioning?.MFADelete === 'Enabled'
  const checks: PreflightCheck[] = [
    {check: 'object-lock', ok: !locked, detail: locked ? `Object Lock is enabled${defaultRetention}` : 'not enabled'},
    {
      check: 'mfa-delete',
      ok: !mfaDelete,
      detail: mfaDelete
        ? "MFA delete is enabled: versions can only be deleted with the root user's MFA device"
        : 'not enabled',
    },
  ]
  if (!locked) {
    checks.splice(
      1,
      0,
      {check: 'legal-hold', ok: true, detail: 'none: impossible without Object Lock'},
      {check: 'retention', ok: true, detail: 'none: impossible without Object Lock'},
    )
    return checks
  }
  const {held, retained, scanned, more} = await scanLocks(context, bucket, owner)
  const some = (items: string[]) => `${items.slice(0, 3).join(', ')}${items.length > 3 ? ', …' : ''}`
  const among = more ? ` (among the first ${scanned} versions)` : ''
  checks.splice(
    1,
    0,
    {
      check: 'legal-hold',
      ok: held.length === 0,
      detail:
        held.length === 0
          ? `none${among}`
          : `${plural(held.length, 'version')} under legal hold${among}: ${some(held)}`,
    },
    {
      check: 'retention',
      ok: retained.length === 0,
      detail:
        retained.length === 0
          ? `none unexpired${among}`
          : `${plural(retained.length, 'version')} under unexpired retention${among}: ${some(retained)}`,
    },
  )
  return checks
}

/**
 * The versions of a locked bucket under legal hold or unexpired retention, eight at a time. One
 * HeadObject per version says both (its Object Lock headers), where GetObjectLegalHold and
 * GetObjectRetention would take two calls.
 */
async function scanLocks(
  context: AwsContext,
  bucket: string,
  owner: string,
): Promise<{held: string[]; retained: string[]; scanned: number; more: boolean}> {
  const held: string[] = []
  const retained: string[] = []
  const limit = pLimit(8)
  const reads: Promise<void>[] = []
  const now = Date.now()
  let scanned = 0
  let more = false
  for await (const version of listObjectVersions(context.s3, {bucket, expectedOwner: owner})) {
    if (version.isDeleteMarker) continue
    if (scanned === lockScanLimit) {
      more = true
      break
    }
    scanned++
    const name = `${version.Key}${version.VersionId && version.VersionId !== 'null' ? ` (${version.VersionId})` : ''}`
    reads.push(
      limit(async () => {
        const head = await headObject(context.s3, {
          bucket,
          key: version.Key,
          versionId: version.VersionId,
          expectedOwner: owner,
        })
        if (head?.ObjectLockLegalHoldStatus === 'ON') held.push(name)
        const until = head?.ObjectLockRetainUntilDate
        if (until && new Date(until).getTime() > now) retained.push(`${name} until ${new Date(until).toISOString()}`)
      }),
    )
  }
  await Promise.all(reads)
  return {held: held.sort(), retained: retained.sort(), scanned, more}
}

/** How many object versions and delete markers the bucket holds (a dry run's count). */
export async function countObjectVersions(context: AwsContext, bucket: string): Promise<number> {
  let count = 0
  for await (const _version of listObjectVersions(context.s3, {bucket, expectedOwner: await context.accountId()}))
    count++
  return count
}

/**
 * Decommissions a bucket the caller has cleared ({@link assertDecommissionable}): records its
 * name as a tombstone next to the index first (who, when, which engagement), so there is never a
 * moment when the bucket is gone and its name is not recorded, then empties and deletes it.
 */
export async function retireBucket(
  context: AwsContext,
  preflight: DecommissionPreflight,
  sharedBucket: string,
  options: {onProgress?: (progress: DeleteProgress) => void; concurrency?: number} = {},
): Promise<DecommissionResult> {
  assertCleared(preflight)
  await recordTombstone(context.s3, sharedBucket, {
    bucket: preflight.bucket,
    engagement_id: preflight.engagementId,
    decommissioned_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    decommissioned_by: await context.callerArn(),
  })
  const result = await decommissionBucket(context, preflight.bucket, options)
  return {...result, trail_selector: (await takeOffTrail(context, preflight.bucket)) ?? null}
}
