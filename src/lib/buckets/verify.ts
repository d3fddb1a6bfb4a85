/**
 * `bucket verify`: every control of the table read back and judged, and `--fix`: the failing
 * ones applied again, then judged anew.
 */
import {HeadBucketCommand} from '@aws-sdk/client-s3'

import type {AwsContext} from '../aws.js'
import {requireSharedBucket} from '../config.js'
import {EngagementIndex} from '../engagement-index.js'
import {AuditforgeError, describeAwsError, httpStatus, notFound} from '../errors.js'
import {readBucketTags} from '../s3/index.js'
import {type ControlCheck, type ControlId, applyControls, controlTargetFor, evaluateControls} from './controls.js'
import {listManagedBuckets} from './inventory.js'
import {parsePerEngagementBucket} from './names.js'
import {assertAllowsCaller} from './principals.js'
import {assertBoundTo, indexTagKey} from './tags.js'

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
