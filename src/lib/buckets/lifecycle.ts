/**
 * The lifecycle configuration auditforge wants on a per-engagement bucket, merged rule by rule
 * into whatever configuration the bucket has: rules auditforge did not write (their ID does not
 * start with `auditforge-`) are sent back exactly as they were read.
 */
import {
  GetBucketLifecycleConfigurationCommand,
  type LifecycleRule,
  PutBucketLifecycleConfigurationCommand,
  type TransitionDefaultMinimumObjectSize,
} from '@aws-sdk/client-s3'

import {awsErrorCode, describeAwsError} from '../errors.js'
import {engagementKeys} from '../layout.js'
import type {ControlTarget} from './controls.js'

export const lifecycleRulePrefix = 'auditforge-'

export const lifecycleRuleIds = {
  abortUploads: `${lifecycleRulePrefix}abort-incomplete-multipart-uploads`,
  deleteMarkers: `${lifecycleRulePrefix}expired-delete-markers`,
  archiveFindings: `${lifecycleRulePrefix}archive-findings`,
  noncurrent: `${lifecycleRulePrefix}expire-noncurrent-versions`,
} as const

export interface LifecycleState {
  rules: LifecycleRule[]
  transitionDefaultMinimumObjectSize?: TransitionDefaultMinimumObjectSize
}

/** The rules auditforge wants on this bucket, by the operator's settings. */
export function wantedRules(target: ControlTarget): LifecycleRule[] {
  const rules: LifecycleRule[] = [
    // Parts of an upload that never completed cost money and hold data nobody can see.
    {
      ID: lifecycleRuleIds.abortUploads,
      Status: 'Enabled',
      Filter: {Prefix: ''},
      AbortIncompleteMultipartUpload: {DaysAfterInitiation: 7},
    },
    // A delete marker with no version left behind it is clutter; removing it deletes no data.
    {
      ID: lifecycleRuleIds.deleteMarkers,
      Status: 'Enabled',
      Filter: {Prefix: ''},
      Expiration: {ExpiredObjectDeleteMarker: true},
    },
  ]
  const archiveDays = target.controls.archiveFindingsAfterDays
  if (archiveDays > 0) {
    rules.push({
      ID: lifecycleRuleIds.archiveFindings,
      Status: 'Enabled',
      // A size filter of its own: by default S3 transitions nothing under 128 KB, and a findings
      // file is usually smaller than that.
      Filter: {And: {Prefix: engagementKeys.findings(target.engagementId), ObjectSizeGreaterThan: 0}},
      Transitions: [{Days: archiveDays, StorageClass: 'DEEP_ARCHIVE'}],
    })
  }
  const noncurrentDays = target.controls.noncurrentDays
  if (noncurrentDays !== undefined) {
    rules.push({
      ID: lifecycleRuleIds.noncurrent,
      Status: 'Enabled',
      Filter: {Prefix: ''},
      NoncurrentVersionExpiration: {NoncurrentDays: noncurrentDays},
    })
  }
  return rules
}

/** The bucket's lifecycle configuration; no rules when it has none. Read once per target. */
export function readLifecycle(target: ControlTarget): Promise<LifecycleState> {
  return target.once('lifecycle', async () => {
    try {
      const reply = await target.s3.send(
        new GetBucketLifecycleConfigurationCommand({Bucket: target.bucket, ExpectedBucketOwner: target.owner}),
      )
      return {rules: reply?.Rules ?? [], transitionDefaultMinimumObjectSize: reply?.TransitionDefaultMinimumObjectSize}
    } catch (error) {
      if (awsErrorCode(error) === 'NoSuchLifecycleConfiguration') return {rules: []}
      throw describeAwsError(error, {action: 'Reading the lifecycle configuration', bucket: target.bucket})
    }
  })
}

export const isOwnRule = (rule: LifecycleRule): boolean => rule.ID?.startsWith(lifecycleRulePrefix) ?? false

/**
 * What a rule does, for comparison: where it applies and its actions. Size filters are left out:
 * they only decide which small objects a transition skips, and S3-compatible servers often drop
 * them.
 */
export function ruleMeaning(rule: LifecycleRule): string {
  const filter = rule.Filter
  const prefix = filter?.Prefix ?? filter?.And?.Prefix ?? rule.Prefix ?? ''
  const tags = [...(filter?.Tag ? [filter.Tag] : []), ...(filter?.And?.Tags ?? [])]
    .map((tag) => `${tag.Key}=${tag.Value}`)
    .sort()
  return JSON.stringify({
    status: rule.Status,
    prefix,
    tags,
    abort: rule.AbortIncompleteMultipartUpload?.DaysAfterInitiation,
    expiration: rule.Expiration
      ? {
          days: rule.Expiration.Days,
          date: rule.Expiration.Date?.toISOString(),
          markers: rule.Expiration.ExpiredObjectDeleteMarker,
        }
      : undefined,
    transitions: (rule.Transitions ?? []).map((transition) => [
      transition.Days,
      transition.Date?.toISOString(),
      transition.StorageClass,
    ]),
    noncurrent: rule.NoncurrentVersionExpiration
      ? [rule.NoncurrentVersionExpiration.NoncurrentDays, rule.NoncurrentVersionExpiration.NewerNoncurrentVersions]
      : undefined,
    noncurrentTransitions: (rule.NoncurrentVersionTransitions ?? []).map((transition) => [
      transition.NoncurrentDays,
      transition.StorageClass,
    ]),
  })
}

/** The ids of the wanted rules that are missing or say something else, and of own rules no longer wanted. */
export function lifecycleDrift(
  state: LifecycleState,
  wanted: LifecycleRule[],
): {missing: string[]; changed: string[]; unwanted: string[]} {
  const byId = new Map(state.rules.map((rule) => [rule.ID ?? '', rule]))
  const wantedIds = new Set(wanted.map((rule) => rule.ID!))
  return {
    missing: wanted.filter((rule) => !byId.has(rule.ID!)).map((rule) => rule.ID!),
    changed: wanted
      .filter((rule) => byId.has(rule.ID!) && ruleMeaning(byId.get(rule.ID!)!) !== ruleMeaning(rule))
      .map((rule) => rule.ID!),
    unwanted: state.rules.filter((rule) => isOwnRule(rule) && !wantedIds.has(rule.ID!)).map((rule) => rule.ID!),
  }
}

/** Writes the configuration: every rule auditforge did not write, as it was, then auditforge's own. */
export async function writeLifecycle(target: ControlTarget): Promise<void> {
  const state = await readLifecycle(target)
  const rules = [...state.rules.filter((rule) => !isOwnRule(rule)), ...wantedRules(target)]
  await target.s3.send(
    new PutBucketLifecycleConfigurationCommand({
      Bucket: target.bucket,
      ExpectedBucketOwner: target.owner,
      LifecycleConfiguration: {Rules: rules},
      // The bucket's choice about small objects applies to everyone's rules; it is kept.
      TransitionDefaultMinimumObjectSize: state.transitionDefaultMinimumObjectSize,
    }),
  )
}
