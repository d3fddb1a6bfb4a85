/**
 * `bucket verify`: every control of the table read back and judged, and `--fix`: the failing
 * ones applied again, then judged anew.
 */
import {HeadBucketCommand} from '@aws-sdk/client-s3'

import type {AwsContext} from '../aws.js'
import {requireSharedBucket} from '../config.js'
import {EngagementIndex} from '../engagement-index.js'
import {AuditforgeError, ExitCode, describeAwsError, httpStatus, notFound, refused} from '../errors.js'
import {parseEngagementBucketName} from '../layout.js'
import {readBucketTags} from '../s3/index.js'
import {type ControlCheck, type ControlId, applyControls, controlTargetFor, evaluateControls} from './controls.js'
import {listManagedBuckets} from './inventory.js'
import {parsePerEngagementBucket} from './names.js'
import {assertAllowsCaller} from './principals.js'
import {assertBoundTo, indexTagKey} from './tags.js'
import {plural} from '../wording.js'

export type {ControlCheck} from './controls.js'

export interface BucketCheck {
  bucket: string
  engagementId: string
  ok: boolean
  controls: ControlCheck[]
  /** Why `--fix` wrote nothing to this bucket (it belongs to another index, or to none). */
  fix_refused?: string
}

/**
 * Checks every control on a per-engagement bucket and reports each as pass/fail with what was
 * expected and what was found, after a first row saying whether the bucket is this account's.
 * A bucket that does not exist is exit 3; a name not of the per-engagement form, exit 5.
 */
export async function checkBucketControls(context: AwsContext, bucket: string): Promise<BucketCheck> {
  const {engagementId} = parsePerEngagementBucket(context, bucket)
  requireSharedBucket(context.settings)
  const owner = await context.accountId()
  const ownerRow = (ok: boolean, actual: string): ControlCheck => ({
    control: 'owner',
    status: ok ? 'pass' : 'fail',
    standards: {},
    ok,
    expected: `account ${owner}`,
    actual,
  })

  try {
    await context.s3.send(new HeadBucketCommand({Bucket: bucket, ExpectedBucketOwner: owner}))
  } catch (error) {
    const status = httpStatus(error)
    if (status === 404) throw notFound(`The bucket ${bucket} does not exist`)
    if (status !== 403) throw describeAwsError(error, {action: 'Checking the bucket', bucket})
    return {bucket, engagementId, ok: false, controls: [ownerRow(false, 'another account, or access denied')]}
  }

  const target = await controlTargetFor(context, {bucket, engagementId})
  const controls = [ownerRow(true, `account ${owner}`), ...(await evaluateControls(target))]
  return {bucket, engagementId, ok: controls.every((control) => control.ok), controls}
}

/**
 * Re-applies the controls that failed a check (never downgrading KMS encryption), on a bucket
 * that belongs to this index only. A bucket bound to another index is another environment's,
 * and one bound to none is this index's only when exactly one of its records points at the
 * bucket, that record is the engagement the bucket is named and tagged for (the binding is then
 * added); any other bucket gets nothing written to it, and the result says why (`fix_refused`).
 */
export async function repairBucketControls(context: AwsContext, bucket: string): Promise<BucketCheck> {
  const before = await checkBucketControls(context, bucket)
  if (before.ok) return before
  if (before.controls.some((control) => control.control === 'owner' && !control.ok)) return before
  const failing = new Set(
    before.controls.filter((control) => !control.ok).map((control) => control.control as ControlId),
  )
  const shared = requireSharedBucket(context.settings)
  let bind: string | undefined
  if (failing.has('index-binding')) {
    const binding = (await readBucketTags(context.s3, bucket, await context.accountId())).get(indexTagKey)
    const pointing = (await new EngagementIndex(context.s3, shared).list()).filter(
      (record) => record.source_bucket === bucket,
    )
    const tagsAgree = before.controls.find((control) => control.control === 'tags')?.ok === true
    const pointedAt = pointing.length === 1 && pointing[0].engagement_id === before.engagementId && tagsAgree
    try {
      assertBoundTo(bucket, binding, shared, {unboundOk: pointedAt, engagementId: before.engagementId})
    } catch (error) {
      if (!(error instanceof AuditforgeError)) throw error
      return {...before, fix_refused: error.message}
    }
    if (binding === undefined) bind = shared
  }
  // Writing the policy with a list that leaves out the caller would lock them out of the bucket.
  if (failing.has('tls-only') || failing.has('least-privilege')) await assertAllowsCaller(context)
  const target = await controlTargetFor(context, {bucket, engagementId: before.engagementId, bind})
  // A bucket being bound is bound first: its other controls are written only once it is this index's.
  if (bind !== undefined) {
    await applyControls(target, {only: new Set<ControlId>(['index-binding'])})
    failing.delete('index-binding')
  }
  if (failing.size > 0) await applyControls(target, {only: failing})
  return checkBucketControls(context, bucket)
}

/**
 * The buckets `bucket verify --all` covers: every bucket a record of the index points at, and
 * every managed per-engagement bucket in the account bound to this index. A bucket bound to
 * another index is another environment's; one bound to none could be, and `--fix` must not
 * write this environment's settings to it (doctor reports those).
 */
export async function bucketsToVerify(context: AwsContext, sharedBucket: string): Promise<string[]> {
  const records = await new EngagementIndex(context.s3, sharedBucket).list()
  const buckets = new Set(
    records.map((record) => record.source_bucket).filter((bucket): bucket is string => Boolean(bucket)),
  )
  const {managed} = await listManagedBuckets(context)
  for (const [bucket, binding] of managed) if (binding === sharedBucket) buckets.add(bucket)
  return [...buckets].sort()
}

/** A bucket `bucket verify` could not check, and why: the error checking it raised. */
export interface UncheckedBucket {
  bucket: string
  /** The engagement its name says; null for a name not of the per-engagement form. */
  engagementId: string | null
  error: AuditforgeError
}

/** One bucket's verdict: its controls checked, or why it could not be checked. */
export type BucketVerification = BucketCheck | UncheckedBucket

/** Whether the bucket could not be checked (its verdict is the error, not controls). */
export function isUnchecked(result: BucketVerification): result is UncheckedBucket {
  return 'error' in result
}

/**
 * A failure that is this bucket's own: it does not exist (exit 3), it is refused (exit 5: not a
 * per-engagement bucket, a policy --fix may not write), or access to it is denied. Anything else
 * (the network, the endpoint, the credentials, a corrupt index) would fail every bucket alike.
 */
function isBucketsOwn(error: unknown): error is AuditforgeError {
  return (
    error instanceof AuditforgeError &&
    (error.exit === ExitCode.notFound || error.exit === ExitCode.refused || error.code === 'access_denied')
  )
}

/**
 * Checks (with `fix`, repairs) each bucket in turn. A failure that is the bucket's own (it does
 * not exist, it is refused, access to it is denied) is that bucket's verdict and the others are
 * still checked; any other failure ends the run.
 */
export async function verifyBuckets(
  context: AwsContext,
  buckets: string[],
  options: {fix?: boolean; onBucket?: (bucket: string, index: number) => void} = {},
): Promise<BucketVerification[]> {
  const results: BucketVerification[] = []
  for (const [i, bucket] of buckets.entries()) {
    options.onBucket?.(bucket, i)
    try {
      results.push(await (options.fix ? repairBucketControls(context, bucket) : checkBucketControls(context, bucket)))
    } catch (error) {
      if (!isBucketsOwn(error)) throw error
      const engagementId = parseEngagementBucketName(context.settings.bucketPrefix, bucket)?.engagementId ?? null
      results.push({bucket, engagementId, error})
    }
  }
  return results
}

/**
 * Why a `bucket verify` run fails, or undefined when every bucket was checked and passed. One
 * exit code for the run, the most pressing first: 5 (`refused`) when --fix may not touch a bucket
 * or a bucket was refused; else 4 (`drift`) when a control drifted; else 1 (`check_failed`) when a
 * bucket could not be read; else 3 (`not_found`) when a bucket does not exist. The message counts
 * every kind found.
 */
export function verificationFailure(
  results: BucketVerification[],
  options: {fix?: boolean} = {},
): AuditforgeError | undefined {
  const checked = results.filter((result): result is BucketCheck => !isUnchecked(result))
  const unchecked = results.filter((result) => isUnchecked(result))
  const untouched = checked.filter((check) => check.fix_refused).length
  const refusedBuckets = unchecked.filter((result) => result.error.exit === ExitCode.refused)
  // A bucket --fix may not touch has drifted too; it is counted once, as untouched.
  const drifted = checked.filter((check) => !check.ok && !check.fix_refused).length
  const unreadable = unchecked.filter(
    (result) => result.error.exit !== ExitCode.refused && result.error.exit !== ExitCode.notFound,
  )
  const missing = unchecked.filter((result) => result.error.exit === ExitCode.notFound)
  const them = (n: number) => (n === 1 ? 'it' : 'them')
  const named = (unseen: UncheckedBucket[]) =>
    ` (${unseen
      .slice(0, 3)
      .map((result) => result.bucket)
      .join(', ')}${unseen.length > 3 ? ', …' : ''})`
  const kinds = [
    {
      n: untouched,
      says: (n: number) =>
        `${n === 1 ? 'belongs' : 'belong'} to another engagement index or to none; --fix wrote nothing to ${them(n)}`,
    },
    {n: refusedBuckets.length, says: (n: number) => `${n === 1 ? 'was' : 'were'} refused${named(refusedBuckets)}`},
    {n: drifted, says: (n: number) => `${n === 1 ? 'has' : 'have'} drifted controls`},
    {n: unreadable.length, says: () => `could not be checked${named(unreadable)}`},
    {n: missing.length, says: (n: number) => `${n === 1 ? 'does' : 'do'} not exist${named(missing)}`},
  ].filter((kind) => kind.n > 0)
  if (kinds.length === 0) return undefined
  const message = kinds
    .map((kind, i) => `${i === 0 ? `${kind.n} of ${plural(results.length, 'bucket')}` : kind.n} ${kind.says(kind.n)}`)
    .join('; ')
  if (untouched > 0)
    return refused(
      message,
      'Run --fix against the index that owns a bucket (--shared-bucket), or bind an unbound one with `auditforge bucket provision <engagement id> --force`.',
    )
  if (refusedBuckets.length > 0) return refused(message, refusedBuckets[0].error.suggestion)
  if (drifted > 0) {
    return new AuditforgeError(message, {
      code: 'drift',
      exit: ExitCode.verificationFailed,
      suggestion: options.fix ? undefined : 'Run again with --fix to re-apply them.',
    })
  }
  if (unreadable.length > 0)
    return new AuditforgeError(message, {
      code: 'check_failed',
      exit: ExitCode.failed,
      suggestion: unreadable[0].error.suggestion,
    })
  return notFound(message, 'Check the bucket names; `auditforge doctor` names a record whose bucket is gone.')
}
