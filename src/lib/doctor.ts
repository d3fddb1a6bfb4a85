/**
 * `auditforge doctor`: the checks an operator runs first on a new account, endpoint or task
 * role. Each check is pass, warn or fail; nothing is changed except a probe object that is
 * written to test conditional writes and removed again.
 */
import type {DoctorCheck} from '../results/doctor.js'
import {randomBytes} from 'node:crypto'

import {HeadBucketCommand, type S3Client} from '@aws-sdk/client-s3'
import pLimit from 'p-limit'

import {createClientConfig, type AwsContext} from './aws.js'
import {checkBucketControls, listManagedBuckets, readTombstones} from './buckets.js'
import {EngagementIndex} from './engagement-index.js'
import {attempt, describeAwsError, isPreconditionFailure} from './errors.js'
import {doctorProbeKey} from './layout.js'
import {
  type VersionEntry,
  deleteObjectVersions,
  listObjectVersions,
  putIfAbsent,
  putIfMatch,
  readVersioning,
} from './s3/index.js'
import {agree, plural} from './wording.js'

export type {CheckStatus, DoctorCheck} from '../results/doctor.js'

/** S3's default quota of general-purpose buckets per account. */
export const defaultBucketQuota = 10_000
/** Service Quotas' code for "General purpose buckets" in S3. */
const bucketQuotaCode = 'L-DC2B2D3D'

const message = (error: unknown, action: string, bucket?: string) => describeAwsError(error, {action, bucket}).message

/** Runs every check in order, reporting each as it finishes. */
export async function runDoctor(
  context: AwsContext,
  sharedBucket: string,
  onCheck?: (check: DoctorCheck) => void,
): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = []
  const record = (check: DoctorCheck) => {
    checks.push(check)
    onCheck?.(check)
    return check
  }

  const identity = record(await checkIdentity(context))
  record(await checkSharedBucket(context.s3, sharedBucket))
  const {check: indexCheck, buckets: recordBuckets} = await checkIndex(context.s3, sharedBucket)
  record(indexCheck)
  record(await checkConditionalWrites(context.s3, sharedBucket))
  if (identity.status === 'fail') {
    record({check: 'engagement buckets', status: 'fail', detail: 'skipped: the caller identity is unknown'})
    return checks
  }
  const {check: bucketsCheck, total, ofThisIndex} = await checkEngagementBuckets(context, sharedBucket, recordBuckets)
  record(bucketsCheck)
  if (ofThisIndex !== undefined) record(await checkBucketControlsOf(context, ofThisIndex))
  if (total !== undefined) record(await checkBucketQuota(context, total))
  return checks
}

async function checkIdentity(context: AwsContext): Promise<DoctorCheck> {
  try {
    const [arn, account] = await Promise.all([context.callerArn(), context.accountId()])
    return {check: 'credentials', status: 'pass', detail: `${arn} (account ${account})`}
  } catch (error) {
    return {check: 'credentials', status: 'fail', detail: message(error, 'Looking up the caller identity')}
  }
}

async function checkSharedBucket(s3: S3Client, bucket: string): Promise<DoctorCheck> {
  const check = 'shared bucket'
  try {
    await attempt({action: 'Checking the shared bucket', bucket}, () =>
      s3.send(new HeadBucketCommand({Bucket: bucket})),
    )
    const versioning = await readVersioning(s3, bucket)
    if (versioning === 'Enabled') return {check, status: 'pass', detail: `${bucket} is reachable and versioned`}
    return {
      check,
      status: 'warn',
      detail: `${bucket} is reachable but versioning is ${versioning === 'Off' ? 'off' : versioning}: an overwritten index cannot be restored`,
    }
  } catch (error) {
    return {check, status: 'fail', detail: message(error, 'Checking the shared bucket', bucket)}
  }
}

async function checkIndex(s3: S3Client, bucket: string): Promise<{check: DoctorCheck; buckets: Map<string, string>}> {
  const check = 'engagement index'
  const buckets = new Map<string, string>()
  try {
    const snapshot = await new EngagementIndex(s3, bucket).read()
    for (const record of snapshot.records)
      if (record.source_bucket) buckets.set(record.source_bucket, record.engagement_id)
    if (snapshot.etag === undefined)
      return {check: {check, status: 'warn', detail: 'no index yet: it is created with the first engagement'}, buckets}
    const isolated = buckets.size
    return {
      check: {
        check,
        status: 'pass',
        detail: `${plural(snapshot.records.length, 'engagement')}, ${isolated} in ${agree(isolated, 'its', 'their')} own ${agree(isolated, 'bucket', 'buckets')}`,
      },
      buckets,
    }
  } catch (error) {
    return {check: {check, status: 'fail', detail: message(error, 'Reading the engagement index', bucket)}, buckets}
  }
}

/**
 * Writes a probe object with If-None-Match: *, then again (which must be refused with 412),
 * then with a wrong If-Match (also 412), and removes every version of it. An endpoint that
 * ignores the conditions would let concurrent index writes overwrite each other.
 */
async function checkConditionalWrites(s3: S3Client, bucket: string): Promise<DoctorCheck> {
  const check = 'conditional writes'
  const key = doctorProbeKey(randomBytes(6).toString('hex'))
  const body = 'auditforge doctor probe; safe to delete\n'
  const put = (condition: {IfNoneMatch?: string; IfMatch?: string}) =>
    condition.IfMatch === undefined
      ? putIfAbsent(s3, {bucket, key}, body)
      : putIfMatch(s3, {bucket, key}, body, condition.IfMatch)
  const refused = async (condition: {IfNoneMatch?: string; IfMatch?: string}) => {
    try {
      await put(condition)
      return false
    } catch (error) {
      if (isPreconditionFailure(error)) return true
      throw error
    }
  }
  try {
    await put({IfNoneMatch: '*'})
    const noneMatchHonoured = await refused({IfNoneMatch: '*'})
    const matchHonoured = await refused({IfMatch: '"00000000000000000000000000000000"'})
    if (noneMatchHonoured && matchHonoured)
      return {check, status: 'pass', detail: 'If-None-Match and If-Match are honoured'}
    const ignored = [noneMatchHonoured ? undefined : 'If-None-Match', matchHonoured ? undefined : 'If-Match']
      .filter(Boolean)
      .join(' and ')
    return {
      check,
      status: 'fail',
      detail: `the endpoint ignores ${ignored}: concurrent index updates could overwrite each other`,
    }
  } catch (error) {
    return {check, status: 'fail', detail: message(error, 'Writing the conditional-write probe', bucket)}
  } finally {
    // Listed by prefix, deleted by exact key: nothing else that merely starts like it.
    await deleteObjectVersions(s3, exactly(key, listObjectVersions(s3, {bucket, prefix: key})), {bucket}).catch(
      () => {},
    )
  }
}

/**
 * Per-engagement buckets in the account (named and tagged as auditforge's) against the
 * records in the index, both ways, by their index binding: a record whose bucket is gone, was
 * decommissioned (a tombstone names it), or is bound to another index, is a failure; a bucket of this index (or unbound) that nobody
 * points at, and a bucket a record points at that is not bound yet, are warnings. Buckets bound
 * to other indexes belong to other environments in the same account and are only counted.
 */
async function checkEngagementBuckets(
  context: AwsContext,
  sharedBucket: string,
  recordBuckets: Map<string, string>,
): Promise<{check: DoctorCheck; total?: number; ofThisIndex?: string[]}> {
  const check = 'engagement buckets'
  const some = (items: string[], count = 3) => `${items.slice(0, count).join(', ')}${items.length > count ? ', …' : ''}`
  try {
    const [{total, names: existing, managed}, tombstones] = await Promise.all([
      listManagedBuckets(context),
      readTombstones(context.s3, sharedBucket),
    ])
    const tombstoned = new Map(tombstones.map((tombstone) => [tombstone.bucket, tombstone]))
    const decommissioned = [...recordBuckets]
      .filter(([bucket]) => tombstoned.has(bucket))
      .map(([bucket, id]) => `${id} → ${bucket} (decommissioned ${tombstoned.get(bucket)!.decommissioned_at})`)
    const missing = [...recordBuckets]
      .filter(([bucket]) => !existing.has(bucket) && !tombstoned.has(bucket))
      .map(([bucket, id]) => `${id} → ${bucket}`)
    const boundElsewhere = [...recordBuckets]
      .filter(([bucket]) => managed.get(bucket) !== undefined && managed.get(bucket) !== sharedBucket)
      .map(([bucket, id]) => `${id} → ${bucket} (bound to ${managed.get(bucket)})`)
    const ours = [...managed]
      .filter(([, binding]) => binding === undefined || binding === sharedBucket)
      .map(([name]) => name)
    const otherEnvironments = managed.size - ours.length
    const orphans = ours.filter((bucket) => !recordBuckets.has(bucket))
    const unbound = ours.filter((bucket) => recordBuckets.has(bucket) && managed.get(bucket) === undefined)
    const elsewhere = otherEnvironments > 0 ? `; ${otherEnvironments} bound to other indexes (other environments)` : ''
    // The buckets whose controls are this index's to keep: those bound to it.
    const ofThisIndex = [...managed]
      .filter(([, binding]) => binding === sharedBucket)
      .map(([name]) => name)
      .sort()
    if (missing.length > 0 || boundElsewhere.length > 0 || decommissioned.length > 0) {
      const problems = [
        decommissioned.length > 0
          ? `records pointing at a decommissioned (tombstoned) bucket: ${some(decommissioned)}`
          : undefined,
        missing.length > 0 ? `records whose bucket is gone: ${some(missing, 5)}` : undefined,
        boundElsewhere.length > 0
          ? `records pointing at a bucket bound to another index: ${some(boundElsewhere)}`
          : undefined,
      ]
      return {check: {check, status: 'fail', detail: problems.filter(Boolean).join('; ')}, total, ofThisIndex}
    }
    if (orphans.length > 0 || unbound.length > 0) {
      const problems = [
        orphans.length > 0
          ? `${plural(orphans.length, 'managed bucket')} no record points at: ${some(orphans)}`
          : undefined,
        unbound.length > 0
          ? `${plural(unbound.length, 'bucket')} not yet bound to this index (run \`auditforge bucket verify --all --fix\`): ${some(unbound)}`
          : undefined,
      ]
      return {
        check: {check, status: 'warn', detail: `${problems.filter(Boolean).join('; ')}${elsewhere}`},
        total,
        ofThisIndex,
      }
    }
    return {
      check: {
        check,
        status: 'pass',
        detail: `${plural(ours.length, 'managed bucket')} of this index, each with a record; every record's bucket exists${elsewhere}`,
      },
      total,
      ofThisIndex,
    }
  } catch (error) {
    return {check: {check, status: 'fail', detail: message(error, 'Listing buckets')}}
  }
}

/**
 * Every control of the controls table on the buckets of this index (four at a time): a drifted
 * control is a failure, named with its bucket, as `bucket verify` would report it.
 */
async function checkBucketControlsOf(context: AwsContext, buckets: string[]): Promise<DoctorCheck> {
  const check = 'bucket controls'
  if (buckets.length === 0) return {check, status: 'pass', detail: 'no per-engagement buckets of this index to check'}
  const limit = pLimit(4)
  try {
    const results = await Promise.all(buckets.map((bucket) => limit(() => checkBucketControls(context, bucket))))
    const drifted = results.filter((result) => !result.ok)
    const skipped = new Set(
      results.flatMap((result) =>
        result.controls.filter((control) => control.status === 'skipped').map((control) => control.control),
      ),
    )
    const skippedNote = skipped.size > 0 ? `; skipped here: ${[...skipped].join(', ')}` : ''
    if (drifted.length === 0)
      return {check, status: 'pass', detail: `every control holds on ${plural(buckets.length, 'bucket')}${skippedNote}`}
    const named = drifted.slice(0, 3).map(
      (result) =>
        `${result.bucket} (${result.controls
          .filter((control) => !control.ok)
          .map((control) => control.control)
          .join(', ')})`,
    )
    return {
      check,
      status: 'fail',
      detail: `${drifted.length} of ${plural(buckets.length, 'bucket')} drifted: ${named.join('; ')}${drifted.length > 3 ? '; …' : ''} (run \`auditforge bucket verify --all --fix\`)`,
    }
  } catch (error) {
    return {check, status: 'fail', detail: message(error, 'Checking the bucket controls')}
  }
}

async function* exactly(key: string, versions: AsyncIterable<VersionEntry>): AsyncGenerator<VersionEntry> {
  for await (const version of versions) if (version.Key === key) yield version
}

async function checkBucketQuota(context: AwsContext, total: number): Promise<DoctorCheck> {
  const check = 'bucket quota'
  let quota = defaultBucketQuota
  let source = `the S3 default (Service Quotas not readable)`
  try {
    const {GetServiceQuotaCommand, ServiceQuotasClient} = await import('@aws-sdk/client-service-quotas')
    const client = new ServiceQuotasClient(createClientConfig(context.settings, 'serviceQuotas', context.credentials))
    try {
      const reply = await client.send(new GetServiceQuotaCommand({ServiceCode: 's3', QuotaCode: bucketQuotaCode}))
      if (reply.Quota?.Value) {
        quota = reply.Quota.Value
        source = 'Service Quotas'
      }
    } finally {
      client.destroy()
    }
  } catch {
    // Not permitted, or not offered by this endpoint: the default stands, and the detail says so.
  }
  const used = total / quota
  const detail = `${total} of ${quota} buckets (${(used * 100).toFixed(1)}%; quota from ${source})`
  if (total >= quota) return {check, status: 'fail', detail: `${detail}: no room for another engagement bucket`}
  if (used >= 0.8) return {check, status: 'warn', detail: `${detail}: request a quota increase`}
  return {check, status: 'pass', detail}
}
