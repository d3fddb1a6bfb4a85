/**
 * Provisioning a per-engagement bucket: create it (or find it already ours), prove it may be
 * worked on, and apply every control of the table.
 */
import {
  CreateBucketCommand,
  type CreateBucketCommandInput,
  DeleteBucketCommand,
  HeadBucketCommand,
  type S3Client,
  type Tag,
} from '@aws-sdk/client-s3'

import type {AwsContext} from '../aws.js'
import {requireSharedBucket} from '../config.js'
import {AuditforgeError, ExitCode, awsErrorCode, describeAwsError, httpStatus, refused} from '../errors.js'
import {isBucketEmpty, readBucketTags} from '../s3/index.js'
import {type ControlId, type SkippedControl, applyControls, controlTargetFor} from './controls.js'
import type {BucketNamespace} from '../layout.js'
import {bucketNameFor, bucketNamesFor, namespaceOf, parsePerEngagementBucket, regionOf} from './names.js'
import {assertAllowsCaller} from './principals.js'
import {assertBoundTo, indexTagKey} from './tags.js'
import {readTombstones, removeTombstone} from './tombstones.js'
import {takeOffTrail} from './trail.js'

/** The steps of provisioning, as reported to `onStep`: creating the bucket, then each control. */
export type ProvisionStep = 'create' | ControlId

export interface ProvisionResult {
  bucket: string
  /** false when the bucket already existed (owned by this account) and was repaired. */
  created: boolean
  /** Controls that do not apply here (TLS-only on a plain-http endpoint), for a warning. */
  skipped: SkippedControl[]
}

export interface ProvisionOptions {
  tags?: Tag[]
  /** Each step as it starts, with what it does in words. */
  onStep?: (step: ProvisionStep, text: string) => void
  /** Remove a bucket this call created when a later step fails (engagement create). */
  removeIfIncomplete?: boolean
  /** Claim an existing bucket bound to no index for this one (the operator's `--force`). */
  bindUnbound?: boolean
  /** Provision a name auditforge decommissioned before (the operator's `--reuse-name`); its tombstone goes. */
  reuseName?: boolean
}

/**
 * Creates the engagement's bucket (or finds it already ours) and applies every control of the
 * table, among them the binding to the configured index (the shared bucket). Idempotent. A
 * bucket of that name owned by someone else is a hard error and nothing is written to it; a
 * bucket of ours bound to another index is refused (exit 5) before anything is written to it,
 * and so is one bound to none unless `bindUnbound` (the operator's `--force`) claims it, and a
 * name auditforge decommissioned (a tombstone) unless `reuseName`. An allowed-principals list
 * that leaves out the caller is refused (exit 2) before anything is created.
 */
export async function provisionEngagementBucket(
  context: AwsContext,
  engagementId: string,
  options: ProvisionOptions = {},
): Promise<ProvisionResult> {
  const index = requireSharedBucket(context.settings)
  const owner = await context.accountId()
  const bucket = await bucketNameFor(context, engagementId)
  await assertAllowsCaller(context)
  const {s3} = context
  const tombstone = (await readTombstones(s3, index)).find((entry) => entry.bucket === bucket)
  if (tombstone && !options.reuseName) {
    throw refused(
      `${bucket} was decommissioned (${tombstone.decommissioned_at}, by ${tombstone.decommissioned_by}, engagement ${tombstone.engagement_id}); its name is not provisioned again`,
      'A decommissioned name may still be in use by someone, or written to by the application; pass --reuse-name if you mean to take it back.',
    )
  }
  options.onStep?.('create', 'Creating the bucket')
  // Without --region/AWS_REGION the client may still have one (a profile's region); the bucket
  // is created where the client sends the request, so that is the LocationConstraint.
  const region = await regionOf(context)
  const created = await createBucketIfMissing(
    s3,
    bucket,
    owner,
    region,
    namespaceOf(parsePerEngagementBucket(context, bucket)),
  )
  if (!created) await assertClaimable(s3, bucket, owner, index, engagementId, options.bindUnbound ?? false)
  try {
    const target = await controlTargetFor(context, {bucket, engagementId, tags: options.tags ?? [], bind: index})
    const skipped = await applyControls(target, {onStep: options.onStep})
    // The name is in use again, with every control: its tombstone no longer says anything true.
    if (tombstone) await removeTombstone(s3, index, bucket)
    return {bucket, created, skipped}
  } catch (error) {
    // A bucket without every control must not be left behind by a create that failed.
    if (created && options.removeIfIncomplete) throw await removeNewBucket(context, bucket, error)
    throw error
  }
}

/**
 * Removes a bucket created moments ago (still empty) after a later step failed, with its
 * data-events selector if one was put on the trail already, and returns the error to raise: the
 * original one, saying whether the bucket is gone.
 */
export async function removeNewBucket(context: AwsContext, bucket: string, cause: unknown): Promise<AuditforgeError> {
  const failure = describeAwsError(cause, {action: 'Creating the engagement'})
  try {
    await context.s3.send(new DeleteBucketCommand({Bucket: bucket, ExpectedBucketOwner: await context.accountId()}))
    const trail = await takeOffTrail(context, bucket)
    const left = typeof trail === 'object' ? `; its data-events selector is still on the trail (${trail.error})` : ''
    return new AuditforgeError(`${failure.message}; the new bucket ${bucket} was removed again${left}`, {
      code: failure.code,
      exit: failure.exit,
      suggestion: failure.suggestion,
      cause,
    })
  } catch (error) {
    const reason = describeAwsError(error, {action: 'Removing the new bucket', bucket}).message
    return new AuditforgeError(`${failure.message}; the new bucket ${bucket} could not be removed either (${reason})`, {
      code: failure.code,
      exit: failure.exit,
      suggestion: `Remove it with \`aws s3 rb s3://${bucket}\`.`,
      cause,
    })
  }
}

/**
 * Whether provisioning may work on a bucket that already exists: one bound to this index, yes;
 * bound to another, never; bound to none, only when the operator claims it (`--force`), or when
 * it carries no auditforge tag at all and holds nothing (what a provision interrupted between
 * CreateBucket and tagging leaves: a bucket from before binding always has the managed-by tag).
 */
async function assertClaimable(
  s3: S3Client,
  bucket: string,
  owner: string,
  index: string,
  engagementId: string,
  bindUnbound: boolean,
): Promise<void> {
  const tags = await readBucketTags(s3, bucket, owner)
  const untouched =
    ![...tags.keys()].some((key) => key.startsWith('auditforge:')) &&
    (await isBucketEmpty(s3, {bucket, expectedOwner: owner}))
  assertBoundTo(bucket, tags.get(indexTagKey), index, {unboundOk: bindUnbound || untouched, engagementId})
}

/**
 * Creates the bucket unless it is already ours; true when this call created it. CreateBucket
 * cannot carry ExpectedBucketOwner (S3 rejects it), so ownership is proved with HeadBucket right
 * after: a bucket that turns out not to be ours is never written to.
 */
async function createBucketIfMissing(
  s3: S3Client,
  bucket: string,
  owner: string,
  region: string | undefined,
  namespace: BucketNamespace,
): Promise<boolean> {
  if ((await bucketState(s3, bucket, owner)) === 'ours') return false
  const input: CreateBucketCommandInput = {Bucket: bucket, ObjectOwnership: 'BucketOwnerEnforced'}
  if (region && region !== 'us-east-1') input.CreateBucketConfiguration = {LocationConstraint: region as never}
  // The x-amz-bucket-namespace header: a name no other account can ever create.
  if (namespace === 'account-regional') input.BucketNamespace = 'account-regional'
  let created = true
  try {
    await s3.send(new CreateBucketCommand(input))
  } catch (error) {
    const code = awsErrorCode(error)
    if (code === 'BucketAlreadyExists') throw someoneElsesBucket(bucket, error)
    if (code !== 'BucketAlreadyOwnedByYou') throw describeAwsError(error, {action: 'Creating the bucket', bucket})
    created = false
  }
  if ((await bucketState(s3, bucket, owner)) !== 'ours') throw someoneElsesBucket(bucket)
  // In us-east-1 CreateBucket answers 200 for a bucket this account already owns: one that
  // appeared since the HeadBucket above (another provision, another environment) is not new,
  // and must go through the claim checks. A bucket created now has no tags and no object.
  if (
    created &&
    ((await readBucketTags(s3, bucket, owner)).size > 0 || !(await isBucketEmpty(s3, {bucket, expectedOwner: owner})))
  )
    return false
  return created
}

function someoneElsesBucket(bucket: string, cause?: unknown): AuditforgeError {
  return new AuditforgeError(
    `The bucket ${bucket} already exists and belongs to another account; nothing was written to it`,
    {
      code: 'bucket_owned_elsewhere',
      exit: ExitCode.failed,
      suggestion: 'Check --account-id / AUDITFORGE_ACCOUNT_ID and AUDITFORGE_BUCKET_PREFIX.',
      cause,
    },
  )
}

/**
 * Whether the bucket exists and is this account's. A bucket of that name owned by someone else
 * (or not readable) counts as not ours: false.
 */
export async function bucketExists(context: AwsContext, bucket: string): Promise<boolean> {
  try {
    return (await bucketState(context.s3, bucket, await context.accountId())) === 'ours'
  } catch (error) {
    if (error instanceof AuditforgeError && error.code === 'bucket_owned_elsewhere') return false
    throw error
  }
}

/**
 * The engagement's own bucket: the one its record points at, or else the bucket named after it
 * (in either namespace) when that exists in this account (left by a rollback or an interrupted
 * migration); undefined when there is none. Whether it may be touched is for the caller to prove.
 */
export async function engagementBucketOf(
  context: AwsContext,
  record: {engagement_id: string; source_bucket?: string},
): Promise<string | undefined> {
  if (record.source_bucket) return record.source_bucket
  // In either namespace: the setting may have changed since the bucket was made.
  for (const bucket of await bucketNamesFor(context, record.engagement_id))
    if (await bucketExists(context, bucket)) return bucket
  return undefined
}

/** 'ours', 'missing', or a hard error when the name is taken by another account. */
async function bucketState(s3: S3Client, bucket: string, owner: string): Promise<'ours' | 'missing'> {
  try {
    await s3.send(new HeadBucketCommand({Bucket: bucket, ExpectedBucketOwner: owner}))
    return 'ours'
  } catch (error) {
    const status = httpStatus(error)
    if (status === 404 || awsErrorCode(error) === 'NotFound' || awsErrorCode(error) === 'NoSuchBucket') return 'missing'
    if (status === 403) throw someoneElsesBucket(bucket, error)
    throw describeAwsError(error, {action: 'Checking the bucket', bucket})
  }
}
