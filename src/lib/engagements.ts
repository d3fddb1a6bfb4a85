/**
 * The engagement lifecycle: create (with its own bucket when isolated) and delete (with its
 * data, or keeping it).
 */
import type {EngagementDeleteResult} from '../results/engagement.js'
import type {Tag} from '@aws-sdk/client-s3'

import type {AwsContext} from './aws.js'
import {
  type DecommissionPreflight,
  type DecommissionResult,
  type ProvisionStep,
  assertDecommissionable,
  engagementBucketOf,
  retireBucket,
  parsePerEngagementBucket,
  provisionEngagementBucket,
  removeNewBucket,
} from './buckets.js'
import {EngagementIndex, type EngagementRecord} from './engagement-index.js'
import {AuditforgeError, ExitCode, describeAwsError, invalidInput, refused} from './errors.js'
import {engagementKeys, newEngagementId, validateEngagementId} from './layout.js'
import {type DeleteProgress, deleteObjectVersions, listEngagementVersions} from './s3/index.js'
import {AuditLogStore} from './stores.js'

export interface CreateEngagementInput {
  name: string
  clientId?: string
  firmId?: string
  isolated: boolean
  tags?: Tag[]
}

export type CreateStep = ProvisionStep | 'record' | 'audit-log' | 'rollback'

/** What the steps of creating an engagement do, in words (provisioning's come with its steps). */
const createStepText = {
  record: 'Writing the engagement record',
  'audit-log': 'Writing the first audit-log event',
  rollback: 'Removing the new bucket again',
} as const

export interface CreateEngagementResult {
  record: EngagementRecord
  /** Things that went wrong after the record was written (it stands regardless). */
  warnings: string[]
}

const identifierPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** Checks what an operator typed before anything is sent to AWS. */
export function validateCreateInput(input: CreateEngagementInput): void {
  const name = input.name.trim()
  if (name.length === 0 || name.length > 200) throw invalidInput('--name must be 1 to 200 characters')
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) throw invalidInput('--name must not contain control characters')
  for (const [flag, value] of [
    ['--client-id', input.clientId],
    ['--firm-id', input.firmId],
  ] as const) {
    if (value !== undefined && !identifierPattern.test(value)) {
      throw invalidInput(
        `Invalid ${flag} ${JSON.stringify(value)}: 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
      )
    }
  }
}

/**
 * Creates an engagement: a new id; its bucket with every control when isolated; the record in
 * the index; the first audit-log event (`engagement.created`, actor = the caller's ARN). If the
 * record cannot be written, the fresh empty bucket is removed again.
 */
export async function createEngagement(
  context: AwsContext,
  sharedBucket: string,
  input: CreateEngagementInput,
  onStep?: (step: CreateStep, text: string) => void,
): Promise<CreateEngagementResult> {
  validateCreateInput(input)
  const engagementId = newEngagementId()
  const actor = await context.callerArn()

  let sourceBucket = ''
  let freshBucket: string | undefined
  const warnings: string[] = []
  if (input.isolated) {
    const provisioned = await provisionEngagementBucket(context, engagementId, {
      tags: input.tags,
      onStep,
      removeIfIncomplete: true,
    })
    sourceBucket = provisioned.bucket
    if (provisioned.created) freshBucket = provisioned.bucket
    for (const skipped of provisioned.skipped)
      warnings.push(`${skipped.control} was not applied to ${sourceBucket}: ${skipped.reason}`)
  }

  const record: EngagementRecord = {
    engagement_id: engagementId,
    name: input.name.trim(),
    client_id: input.clientId ?? '',
    ...(input.firmId === undefined ? {} : {firm_id: input.firmId}),
    created_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    source_bucket: sourceBucket,
    findings_key: engagementKeys.findings(engagementId),
    audit_log_key: engagementKeys.auditLogPrefix(engagementId),
  }

  onStep?.('record', createStepText.record)
  const index = new EngagementIndex(context.s3, sharedBucket)
  try {
    await index.add(record)
  } catch (error) {
    if (!freshBucket) throw error
    // A write whose answer was lost (network, 5xx, retries spent) may still have landed: then
    // the bucket is the record's and stays. When the index cannot say, it stays too.
    const uncertain =
      !(error instanceof AuditforgeError) || ['network', 'aws_error', 'conflict', 'throttled'].includes(error.code)
    const landed =
      uncertain &&
      (await index.list().then(
        (records) => records.some((candidate) => candidate.engagement_id === engagementId),
        () => true,
      ))
    if (landed) throw error
    onStep?.('rollback', createStepText.rollback)
    throw await removeNewBucket(context, freshBucket, error)
  }

  onStep?.('audit-log', createStepText['audit-log'])
  try {
    await new AuditLogStore(context, sharedBucket).append(
      {
        event: 'engagement.created',
        timestamp: record.created_at,
        engagement_id: engagementId,
        actor,
        source_bucket: sourceBucket,
      },
      sourceBucket || undefined,
    )
  } catch (error) {
    warnings.push(
      `The engagement was created, but its first audit-log event was not written: ${describeAwsError(error, {action: 'Appending to the audit log'}).message}`,
    )
  }
  return {record, warnings}
}

/** The `engagement delete` result. */
export type DeleteEngagementResult = EngagementDeleteResult

export interface DeleteEngagementOptions {
  keepData: boolean
  onProgress?: (progress: DeleteProgress & {phase: 'shared' | 'bucket'}) => void
}

/**
 * Deletes an engagement. Without `keepData`, its own keys (every version) are removed from the
 * shared bucket first — nobody else's: matching is exact — so an interrupted run can simply be
 * repeated. Then the record goes. Then its own bucket is decommissioned, best-effort: a failure
 * there is reported with the command that retries it, and the deletion stands. Its own bucket is
 * the record's `source_bucket`, or, when that is empty, the bucket named after the engagement if
 * it exists and is provably this engagement's of this index (a rollback or an interrupted
 * migration leaves a full copy of the data there). The bucket goes only when its preflight
 * clears it (no Object Lock, legal hold, retention or MFA delete), and its name is tombstoned. A
 * bucket the record names that no longer exists is reported `gone`: nothing to clean up.
 */
export async function deleteEngagement(
  context: AwsContext,
  sharedBucket: string,
  engagementId: string,
  options: DeleteEngagementOptions,
): Promise<DeleteEngagementResult> {
  validateEngagementId(engagementId)
  const index = new EngagementIndex(context.s3, sharedBucket)
  const record = await index.get(engagementId)
  const sourceBucket = record.source_bucket ?? ''
  // Decommissioning the engagement's bucket records who did it (the tombstone): a caller that
  // cannot be looked up fails the deletion here, before anything is removed.
  if (!options.keepData && sourceBucket) await context.callerArn()

  let sharedDeleted = 0
  if (!options.keepData) {
    const versions = listEngagementVersions(context.s3, sharedBucket, engagementId)
    const deleted = await deleteObjectVersions(context.s3, versions, {
      bucket: sharedBucket,
      onProgress: (progress) => options.onProgress?.({...progress, phase: 'shared'}),
    })
    sharedDeleted = deleted.deleted
  }

  const remaining = await index.remove(engagementId)
  const result: DeleteEngagementResult = {
    engagement_id: engagementId,
    source_bucket: sourceBucket,
    shared_objects_deleted: sharedDeleted,
    bucket_name: sourceBucket || null,
    bucket: sourceBucket ? 'kept' : null,
    bucket_objects_deleted: 0,
    trail_selector: null,
    cleanup_error: null,
    retry_command: null,
  }
  if (options.keepData) return result

  const bucket = await engagementBucketOf(context, record)
  if (bucket === undefined) return result
  result.bucket_name = bucket
  const pointing = remaining.filter((other) => other.source_bucket === bucket).map((other) => other.engagement_id)
  let preflight: DecommissionPreflight
  try {
    // Only the engagement's own bucket, only when no other record points at it, and only when
    // its binding says it is this index's: a record alone proves nothing (another environment's
    // index may be a copy of this one), so an unbound bucket is left for the operator to bind.
    if (parsePerEngagementBucket(context, bucket).engagementId !== engagementId) {
      throw refused(`${bucket} is not the bucket of ${engagementId} by name; it was left in place`)
    }
    preflight = await assertDecommissionable(context, bucket, sharedBucket, pointing, {engagementId})
  } catch (error) {
    const refusal = describeAwsError(error, {action: 'Checking the bucket', bucket})
    // A bucket that does not exist is nothing to clean up, and a retry could only fail (exit 3).
    if (refusal.exit === ExitCode.notFound) return {...result, bucket: 'gone'}
    if (bucket === sourceBucket || refusal.exit !== ExitCode.refused) {
      return {
        ...result,
        bucket: 'cleanup_failed',
        cleanup_error: refusal.message,
        retry_command: decommissionCommand(context, bucket),
      }
    }
    return {...result, bucket: 'left_in_place', cleanup_error: refusal.message}
  }
  try {
    const decommissioned: DecommissionResult = await retireBucket(context, preflight, sharedBucket, {
      onProgress: (progress) => options.onProgress?.({...progress, phase: 'bucket'}),
    })
    return {
      ...result,
      bucket: 'decommissioned',
      bucket_objects_deleted: decommissioned.deleted,
      trail_selector: decommissioned.trail_selector,
    }
  } catch (error) {
    const failure = describeAwsError(error, {action: 'Decommissioning the bucket', bucket})
    // Deleted meanwhile by someone else: nothing is left to retry.
    if (failure.exit === ExitCode.notFound) return {...result, bucket: 'gone'}
    return {
      ...result,
      bucket: 'cleanup_failed',
      cleanup_error: failure.message,
      retry_command: decommissionCommand(context, bucket),
    }
  }
}

/** The command that retries a bucket's decommission, with the trail its selector comes off. */
function decommissionCommand(context: AwsContext, bucket: string): string {
  const trail = context.settings.controls.cloudtrailTrail
  return `auditforge bucket decommission ${bucket} --yes${trail === undefined ? '' : ` --cloudtrail-trail ${trail}`}`
}
