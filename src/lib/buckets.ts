/**
 * Per-engagement buckets: provisioning with every control of DESIGN.md, checking and repairing
 * those controls, and decommissioning. Every call to a per-engagement bucket passes
 * ExpectedBucketOwner, so a bucket that changed hands is never read or written.
 */
import {
  CreateBucketCommand,
  type CreateBucketCommandInput,
  DeleteBucketCommand,
  GetBucketEncryptionCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  PutBucketEncryptionCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketVersioningCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
  type Tag,
} from '@aws-sdk/client-s3'

import type {AwsContext} from './aws.js'
import {AuditforgeError, ExitCode, attempt, awsErrorCode, describeAwsError, httpStatus, invalidInput, notFound, refused} from './errors.js'
import {requireSharedBucket} from './config.js'
import {EngagementIndex} from './engagement-index.js'
import {engagementBucketName, parseEngagementBucketName, validateBucketName} from './layout.js'
import {type DeleteProgress, abortMultipartUploads, deleteObjectVersions, isBucketEmpty, listObjectVersions, readBucketTags, writeBucketTags} from './s3/index.js'

export const managedByTag: Tag = {Key: 'auditforge:managed-by', Value: 'auditforge'}
export const engagementIdTagKey = 'auditforge:engagement-id'
/**
 * Binds a bucket to the index that owns it: the name of the shared bucket whose
 * `auditforge/engagements.json` the bucket belongs to. Two environments (staging, production)
 * can share an account; the binding is what stops one environment's index from vouching for,
 * and decommissioning, the other's buckets.
 */
export const indexTagKey = 'auditforge:index'
const reservedTagPrefixes = ['aws:', 'auditforge:']

/** Parses `--tag key=value`; S3's tag limits and auditforge's own keys are checked here. */
export function parseTag(text: string): Tag {
  const separator = text.indexOf('=')
  if (separator <= 0) throw invalidInput(`Invalid tag ${JSON.stringify(text)}: expected key=value`)
  const key = text.slice(0, separator)
  const value = text.slice(separator + 1)
  if (key.length > 128 || value.length > 256) throw invalidInput(`Invalid tag ${JSON.stringify(text)}: key up to 128, value up to 256 characters`)
  if (!/^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u.test(key + value)) {
    throw invalidInput(`Invalid tag ${JSON.stringify(text)}: use letters, digits, spaces and _ . : / = + - @`)
  }
  if (reservedTagPrefixes.some((prefix) => key.toLowerCase().startsWith(prefix))) {
    throw invalidInput(`Invalid tag ${JSON.stringify(text)}: keys starting with ${reservedTagPrefixes.join(' or ')} are reserved`)
  }
  return {Key: key, Value: value}
}

export function parseTags(texts: readonly string[] = []): Tag[] {
  const tags = texts.map((text) => parseTag(text))
  const keys = new Set(tags.map((tag) => tag.Key))
  if (keys.size !== tags.length) throw invalidInput('Each --tag key may be given only once')
  if (tags.length > 48) throw invalidInput('At most 48 --tag values (S3 allows 50 tags, auditforge uses 2)')
  return tags
}

/** The controls auditforge applies, in the order it applies them. */
export type BucketControl = 'public-access-block' | 'object-ownership' | 'encryption' | 'versioning' | 'tags' | 'index-binding'
export type ProvisionStep = 'create' | Exclude<BucketControl, 'index-binding'>

export interface ProvisionResult {
  bucket: string
  /** false when the bucket already existed (owned by this account) and was repaired. */
  created: boolean
}

/** The per-engagement bucket name for this account and prefix. */
export async function bucketNameFor(context: AwsContext, engagementId: string): Promise<string> {
  return engagementBucketName(context.settings.bucketPrefix, engagementId, await context.accountId())
}

/**
 * Creates the engagement's bucket (or finds it already ours) and applies every control:
 * Object Ownership BucketOwnerEnforced, all four public-access-block settings, AES256 default
 * encryption, versioning, and the auditforge tags plus the operator's, among them the binding to
 * the configured index (the shared bucket). Idempotent. A bucket of that name owned by someone
 * else is a hard error and nothing is written to it; a bucket of ours bound to another index is
 * refused (exit 5) before anything is written to it, and so is one bound to none unless
 * `bindUnbound` (the operator's `--force`) claims it.
 */
export async function provisionEngagementBucket(
  context: AwsContext,
  engagementId: string,
  options: {tags?: Tag[]; onStep?: (step: ProvisionStep) => void; removeIfIncomplete?: boolean; bindUnbound?: boolean} = {},
): Promise<ProvisionResult> {
  const index = requireSharedBucket(context.settings)
  const owner = await context.accountId()
  const bucket = await bucketNameFor(context, engagementId)
  const {s3} = context
  options.onStep?.('create')
  // Without --region/AWS_REGION the client may still have one (a profile's region); the bucket
  // is created where the client sends the request, so that is the LocationConstraint.
  const region = context.settings.region ?? (await s3.config.region().catch(() => undefined))
  const created = await createBucketIfMissing(s3, bucket, owner, region)
  if (!created) await assertClaimable(s3, bucket, owner, index, engagementId, options.bindUnbound ?? false)
  try {
    await applyBucketControls(s3, bucket, owner, engagementId, {...options, index})
  } catch (error) {
    // A bucket without every control must not be left behind by a create that failed.
    if (created && options.removeIfIncomplete) throw await removeNewBucket(s3, bucket, owner, error)
    throw error
  }
  return {bucket, created}
}

/**
 * Removes a bucket created moments ago (still empty) after a later step failed, and returns
 * the error to raise: the original one, saying whether the bucket is gone.
 */
export async function removeNewBucket(s3: S3Client, bucket: string, owner: string, cause: unknown): Promise<AuditforgeError> {
  const failure = describeAwsError(cause, {action: 'Creating the engagement'})
  try {
    await s3.send(new DeleteBucketCommand({Bucket: bucket, ExpectedBucketOwner: owner}))
    return new AuditforgeError(`${failure.message}; the new bucket ${bucket} was removed again`, {
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
async function assertClaimable(s3: S3Client, bucket: string, owner: string, index: string, engagementId: string, bindUnbound: boolean): Promise<void> {
  const tags = await readBucketTags(s3, bucket, owner)
  const untouched = ![...tags.keys()].some((key) => key.startsWith('auditforge:')) && (await isBucketEmpty(s3, {bucket, expectedOwner: owner}))
  assertBoundTo(bucket, tags.get(indexTagKey), index, {unboundOk: bindUnbound || untouched, engagementId})
}

async function createBucketIfMissing(s3: S3Client, bucket: string, owner: string, region: string | undefined): Promise<boolean> {
  if (await bucketState(s3, bucket, owner) === 'ours') return false
  const input: CreateBucketCommandInput = {Bucket: bucket, ObjectOwnership: 'BucketOwnerEnforced'}
  if (region && region !== 'us-east-1') input.CreateBucketConfiguration = {LocationConstraint: region as never}
  try {
    await s3.send(new CreateBucketCommand(input))
    return true
  } catch (error) {
    const code = awsErrorCode(error)
    if (code === 'BucketAlreadyOwnedByYou') return false
    if (code === 'BucketAlreadyExists') throw someoneElsesBucket(bucket, error)
    throw describeAwsError(error, {action: 'Creating the bucket', bucket})
  }
}

function someoneElsesBucket(bucket: string, cause?: unknown): AuditforgeError {
  return new AuditforgeError(`The bucket ${bucket} already exists and belongs to another account; nothing was written to it`, {
    code: 'bucket_owned_elsewhere',
    exit: ExitCode.failed,
    suggestion: 'Check --account-id / AUDITFORGE_ACCOUNT_ID and AUDITFORGE_BUCKET_PREFIX.',
    cause,
  })
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
 * when that exists in this account (left by a rollback or an interrupted migration); undefined
 * when there is none. Whether it may be touched is for the caller to prove.
 */
export async function engagementBucketOf(
  context: AwsContext,
  record: {engagement_id: string; source_bucket?: string},
): Promise<string | undefined> {
  if (record.source_bucket) return record.source_bucket
  const bucket = await bucketNameFor(context, record.engagement_id)
  return (await bucketExists(context, bucket)) ? bucket : undefined
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

/**
 * Applies (or re-applies) every control, or only those named in `only`; tags not managed by
 * auditforge are kept.
 */
export async function applyBucketControls(
  s3: S3Client,
  bucket: string,
  owner: string,
  engagementId: string,
  options: {tags?: Tag[]; onStep?: (step: ProvisionStep) => void; only?: ReadonlySet<BucketControl>; index?: string} = {},
): Promise<void> {
  const step = async (name: ProvisionStep & BucketControl, action: string, call: () => Promise<unknown>) => {
    if (options.only && !options.only.has(name)) return
    options.onStep?.(name)
    await attempt({action, bucket}, call)
  }
  const ExpectedBucketOwner = owner
  // Block public access first: the bucket is never public, even for a moment between steps.
  await step('public-access-block', 'Blocking public access', () =>
    s3.send(
      new PutPublicAccessBlockCommand({
        Bucket: bucket,
        ExpectedBucketOwner,
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          IgnorePublicAcls: true,
          BlockPublicPolicy: true,
          RestrictPublicBuckets: true,
        },
      }),
    ),
  )
  await step('object-ownership', 'Enforcing bucket-owner object ownership', () =>
    s3.send(
      new PutBucketOwnershipControlsCommand({
        Bucket: bucket,
        ExpectedBucketOwner,
        OwnershipControls: {Rules: [{ObjectOwnership: 'BucketOwnerEnforced'}]},
      }),
    ),
  )
  await step('encryption', 'Setting default encryption', () =>
    s3.send(
      new PutBucketEncryptionCommand({
        Bucket: bucket,
        ExpectedBucketOwner,
        ServerSideEncryptionConfiguration: {Rules: [{ApplyServerSideEncryptionByDefault: {SSEAlgorithm: 'AES256'}}]},
      }),
    ),
  )
  await step('versioning', 'Enabling versioning', () =>
    s3.send(new PutBucketVersioningCommand({Bucket: bucket, ExpectedBucketOwner, VersioningConfiguration: {Status: 'Enabled'}})),
  )
  if (options.only && !options.only.has('tags') && !options.only.has('index-binding')) return
  const existing = await readBucketTags(s3, bucket, owner)
  const wanted = new Map<string, string>()
  for (const [key, value] of existing) if (!key.startsWith('auditforge:')) wanted.set(key, value)
  for (const tag of options.tags ?? []) wanted.set(tag.Key!, tag.Value ?? '')
  wanted.set(engagementIdTagKey, engagementId)
  wanted.set(managedByTag.Key!, managedByTag.Value!)
  // The binding is written only when asked for; otherwise the one already there is kept.
  const binding = options.index ?? existing.get(indexTagKey)
  if (binding !== undefined) wanted.set(indexTagKey, binding)
  options.onStep?.('tags')
  await writeBucketTags(s3, bucket, owner, wanted)
}

/**
 * Refuses (exit 5) a bucket bound to an index other than `index`. An unbound bucket (provisioned
 * before buckets were bound) passes only where the caller has other proof that it belongs here.
 */
export function assertBoundTo(
  bucket: string,
  binding: string | undefined,
  index: string,
  options: {unboundOk: boolean; engagementId?: string},
): void {
  if (binding === index) return
  if (binding !== undefined) {
    throw refused(
      `${bucket} is bound to the engagement index in ${binding}, not to ${index}; it belongs to another environment and was left untouched`,
      `Run the command against that index (--shared-bucket ${binding}) if that is what you meant.`,
    )
  }
  if (!options.unboundOk) {
    throw refused(
      `${bucket} is not bound to any engagement index (no ${indexTagKey} tag), so nothing proves it belongs to ${index}; it was left untouched`,
      `If it belongs to this index, bind it first: \`auditforge bucket provision ${options.engagementId ?? '<engagement id>'} --shared-bucket ${index} --force\`.`,
    )
  }
}

export type ControlName = 'owner' | BucketControl

export interface ControlCheck {
  control: ControlName
  ok: boolean
  expected: string
  actual: string
}

export interface BucketCheck {
  bucket: string
  engagementId: string
  ok: boolean
  controls: ControlCheck[]
}

/** Reads a bucket setting, treating "not configured" errors as an absent value. */
async function readSetting<T>(bucket: string, action: string, absentCodes: string[], call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call()
  } catch (error) {
    if (absentCodes.includes(awsErrorCode(error) ?? '')) return undefined
    throw describeAwsError(error, {action, bucket})
  }
}

/**
 * Checks every control on a per-engagement bucket and reports each as pass/fail with what was
 * expected and what was found. A bucket that does not exist is exit 3.
 */
export async function checkBucketControls(context: AwsContext, bucket: string): Promise<BucketCheck> {
  const {engagementId} = parsePerEngagementBucket(context, bucket)
  const index = requireSharedBucket(context.settings)
  const owner = await context.accountId()
  const {s3} = context
  const ExpectedBucketOwner = owner
  const check = (control: ControlName, ok: boolean, expected: string, actual: string): ControlCheck => ({control, ok, expected, actual})

  try {
    await s3.send(new HeadBucketCommand({Bucket: bucket, ExpectedBucketOwner}))
  } catch (error) {
    const status = httpStatus(error)
    if (status === 404) throw notFound(`The bucket ${bucket} does not exist`)
    if (status !== 403) throw describeAwsError(error, {action: 'Checking the bucket', bucket})
    const controls = [check('owner', false, `account ${owner}`, 'another account, or access denied')]
    return {bucket, engagementId, ok: false, controls}
  }

  const [ownership, versioning, encryption, publicAccess, tags] = await Promise.all([
    readSetting(bucket, 'Reading object ownership', ['OwnershipControlsNotFoundError'], () =>
      s3.send(new GetBucketOwnershipControlsCommand({Bucket: bucket, ExpectedBucketOwner})),
    ),
    readSetting(bucket, 'Reading versioning', [], () => s3.send(new GetBucketVersioningCommand({Bucket: bucket, ExpectedBucketOwner}))),
    readSetting(bucket, 'Reading default encryption', ['ServerSideEncryptionConfigurationNotFoundError'], () =>
      s3.send(new GetBucketEncryptionCommand({Bucket: bucket, ExpectedBucketOwner})),
    ),
    readSetting(bucket, 'Reading the public access block', ['NoSuchPublicAccessBlockConfiguration'], () =>
      s3.send(new GetPublicAccessBlockCommand({Bucket: bucket, ExpectedBucketOwner})),
    ),
    readBucketTags(s3, bucket, owner),
  ])

  const ownershipValue = ownership?.OwnershipControls?.Rules?.[0]?.ObjectOwnership ?? 'not set'
  const versioningValue = versioning?.Status ?? 'never enabled'
  const algorithm = encryption?.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm ?? 'none'
  const block = publicAccess?.PublicAccessBlockConfiguration
  const blockFlags = [block?.BlockPublicAcls, block?.IgnorePublicAcls, block?.BlockPublicPolicy, block?.RestrictPublicBuckets]
  const tagValue = (key: string) => tags.get(key)
  const tagsOk = tagValue(engagementIdTagKey) === engagementId && tagValue(managedByTag.Key!) === managedByTag.Value

  const controls = [
    check('owner', true, `account ${owner}`, `account ${owner}`),
    check('object-ownership', ownershipValue === 'BucketOwnerEnforced', 'BucketOwnerEnforced', ownershipValue),
    check('versioning', versioningValue === 'Enabled', 'Enabled', versioningValue),
    // KMS is stronger than the AES256 minimum; --fix must never downgrade it.
    check('encryption', ['AES256', 'aws:kms', 'aws:kms:dsse'].includes(algorithm), 'AES256', algorithm),
    check(
      'public-access-block',
      blockFlags.every((flag) => flag === true),
      'all four true',
      block ? `${blockFlags.filter((flag) => flag === true).length} of 4 true` : 'not set',
    ),
    check(
      'tags',
      tagsOk,
      `${engagementIdTagKey}=${engagementId}, ${managedByTag.Key}=${managedByTag.Value}`,
      tagsOk ? 'both auditforge tags' : describeTagDrift(tagValue(engagementIdTagKey), tagValue(managedByTag.Key!)),
    ),
    check('index-binding', tagValue(indexTagKey) === index, `${indexTagKey}=${index}`, tagValue(indexTagKey) === undefined ? 'not bound' : `${indexTagKey}=${tagValue(indexTagKey)}`),
  ]
  return {bucket, engagementId, ok: controls.every((control) => control.ok), controls}
}

function describeTagDrift(engagementTag: string | undefined, managedBy: string | undefined): string {
  const problems = [
    engagementTag === undefined ? `${engagementIdTagKey} missing` : undefined,
    managedBy === undefined ? `${managedByTag.Key} missing` : undefined,
  ]
  return problems.filter(Boolean).join(', ') || `${engagementIdTagKey}=${engagementTag}, ${managedByTag.Key}=${managedBy}`
}

/**
 * Re-applies the controls that failed a check (never downgrading KMS encryption). A missing
 * index binding is added only when exactly one record of the configured index points at the
 * bucket, that record is the engagement the bucket is named and tagged for; a binding to
 * another index is never changed (that bucket is another environment's).
 */
export async function repairBucketControls(context: AwsContext, bucket: string): Promise<BucketCheck> {
  const before = await checkBucketControls(context, bucket)
  if (before.ok) return before
  if (before.controls.some((control) => control.control === 'owner' && !control.ok)) return before
  const failing = new Set(before.controls.filter((control) => !control.ok).map((control) => control.control as BucketControl))
  let index: string | undefined
  if (failing.has('index-binding')) {
    failing.delete('index-binding')
    const binding = before.controls.find((control) => control.control === 'index-binding')!
    const shared = requireSharedBucket(context.settings)
    const pointing = (await new EngagementIndex(context.s3, shared).list()).filter((record) => record.source_bucket === bucket)
    const tagsAgree = before.controls.find((control) => control.control === 'tags')?.ok === true
    const pointedAt = pointing.length === 1 && pointing[0].engagement_id === before.engagementId && tagsAgree
    if (binding.actual === 'not bound' && pointedAt) {
      index = shared
      failing.add('index-binding')
    }
  }
  if (failing.size === 0) return before
  await applyBucketControls(context.s3, bucket, await context.accountId(), before.engagementId, {only: failing, index})
  return checkBucketControls(context, bucket)
}

/** Splits a per-engagement bucket name; a name of another form is refused (exit 5). */
export function parsePerEngagementBucket(context: AwsContext, bucket: string): {engagementId: string; accountId: string} {
  validateBucketName(bucket)
  const parsed = parseEngagementBucketName(context.settings.bucketPrefix, bucket)
  if (!parsed) {
    throw refused(
      `${bucket} is not a per-engagement bucket name (${context.settings.bucketPrefix}<id>-<account id>)`,
      'Per-engagement buckets are named like metis-af-6715f196fa40-741783034843; check AUDITFORGE_BUCKET_PREFIX.',
    )
  }
  return parsed
}

export interface DecommissionResult {
  bucket: string
  deleted: number
  uploadsAborted: number
}

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
      return {bucket, deleted, uploadsAborted}
    } catch (error) {
      if (awsErrorCode(error) === 'NoSuchBucket') return {bucket, deleted, uploadsAborted}
      if (awsErrorCode(error) !== 'BucketNotEmpty' || pass === 3) throw describeAwsError(error, {action: 'Deleting the bucket', bucket})
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

/**
 * Refuses (exit 5) to decommission the shared bucket, a name not of the per-engagement form,
 * a bucket of another account, a bucket an engagement record still points at, a bucket
 * auditforge did not tag as its own, a bucket bound to another index, and (unless the caller
 * says otherwise) a bucket bound to no index. A bucket that does not exist is exit 3.
 */
export async function assertDecommissionable(
  context: AwsContext,
  bucket: string,
  sharedBucket: string,
  pointingRecords: string[],
  checks: DecommissionChecks = {},
): Promise<void> {
  validateBucketName(bucket)
  if (bucket === sharedBucket) throw refused(`${bucket} is the shared platform bucket; it is never decommissioned`)
  const parsed = parsePerEngagementBucket(context, bucket)
  const owner = await context.accountId()
  if (parsed.accountId !== owner) throw refused(`${bucket} belongs to account ${parsed.accountId}, not ${owner}`)
  if (pointingRecords.length > 0) {
    throw refused(
      `${bucket} is still the bucket of ${pointingRecords.join(', ')}`,
      `Delete the engagement (\`auditforge engagement delete ${pointingRecords[0]}\`) or roll it back first.`,
    )
  }
  let tags: Map<string, string>
  try {
    tags = await readBucketTags(context.s3, bucket, owner)
  } catch (error) {
    if (error instanceof AuditforgeError && error.code === 'no_such_bucket') throw notFound(`The bucket ${bucket} does not exist`)
    throw error
  }
  if (tags.get(managedByTag.Key!) !== managedByTag.Value) {
    throw refused(
      `${bucket} is not tagged ${managedByTag.Key}=${managedByTag.Value}; auditforge only removes buckets it manages`,
      `If it is an auditforge bucket, run \`auditforge bucket verify ${bucket} --fix\` first.`,
    )
  }
  // The bucket's name and its engagement tag must agree (and with the engagement being deleted).
  const expected = checks.engagementId ?? parsed.engagementId
  if (tags.get(engagementIdTagKey) !== expected || parsed.engagementId !== expected) {
    throw refused(`${bucket} is not tagged ${engagementIdTagKey}=${expected}; nothing proves whose bucket it is, so it was left untouched`)
  }
  assertBoundTo(bucket, tags.get(indexTagKey), sharedBucket, {unboundOk: checks.unboundOk ?? false, engagementId: parsed.engagementId})
}
