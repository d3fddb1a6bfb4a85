/**
 * The bucket controls: one table, one entry per control. Each entry says what the control is
 * (id, a one-line description, the scanner findings it answers), how to apply it, how to read it
 * back, when it passes, and whether it applies here. Provisioning, `bucket verify`, `--fix`, the
 * progress steps, doctor and the README's controls table all iterate this table, so adding a
 * control is adding an entry.
 *
 * Every call to the bucket passes ExpectedBucketOwner: a bucket that changed hands is never read
 * or written.
 */
import {
  GetBucketEncryptionCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  PutBucketEncryptionCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketVersioningCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
  type Tag,
} from '@aws-sdk/client-s3'

import {attempt, awsErrorCode, describeAwsError} from '../errors.js'
import {readBucketTags, writeBucketTags} from '../s3/index.js'
import {engagementIdTagKey, indexTagKey, managedByTag} from './tags.js'

/** The scanners an auditor runs, and the ids under which each reports a finding. */
export interface Standards {
  /** AWS Security Hub, AWS Foundational Security Best Practices: `S3.x`. */
  fsbp?: string[]
  /** CIS Amazon Web Services Foundations Benchmark v3.0.0: `x.y.z`. */
  cis?: string[]
  /** Prowler check ids. */
  prowler?: string[]
}

export type StandardName = keyof Standards
export const standardNames: readonly StandardName[] = ['fsbp', 'cis', 'prowler']

/** One bucket, what auditforge wants on it, and its settings read at most once. */
export interface ControlTarget {
  readonly s3: S3Client
  readonly bucket: string
  /** The account that must own the bucket (ExpectedBucketOwner on every call). */
  readonly owner: string
  readonly engagementId: string
  /** The operator's own tags (`--tag`), kept beside auditforge's. */
  readonly tags: readonly Tag[]
  /**
   * The index to bind the bucket to when the tags are written; undefined keeps the binding that
   * is there (a repair binds only what it can prove belongs to this index).
   */
  readonly bind?: string
  /** The configured index (the shared bucket): what the binding must say. */
  readonly index: string
  /** Reads shared by several controls (the tag set), made once per target. */
  readonly once: <T>(key: string, read: () => Promise<T>) => Promise<T>
}

/** What a check found: whether it passes, and what was expected and found, for the table. */
export interface Verdict {
  ok: boolean
  expected: string
  actual: string
}

/** One control; `T` is what `read` returns and `evaluate` judges. */
export interface BucketControl<T = unknown> {
  id: ControlId
  /** One line, for the README's table and `--help`. */
  description: string
  standards: Standards
  /** What is being done while it is applied: the progress step and the action in errors. */
  step: string
  /**
   * Set when this control's setting is written by another control's write (both live in one
   * document, like the tag set): applying both is one write, made by that other control.
   */
  writtenWith?: ControlId
  /** How to read the setting back; "not configured" is a value, not an error. */
  read(target: ControlTarget): Promise<T>
  /** When it passes. */
  evaluate(value: T, target: ControlTarget): Verdict
  /** How to apply (or re-apply) it. A failure names `step` as the action. */
  apply(target: ControlTarget): Promise<unknown>
}

/** Keeps each entry's `read` and `evaluate` agreeing on `T` while the table holds them all. */
function control<T>(definition: BucketControl<T>): BucketControl {
  return definition as BucketControl
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

const bucketTags = (target: ControlTarget) => target.once('tags', () => readBucketTags(target.s3, target.bucket, target.owner))

/**
 * Writes the whole tag set: the tags of others kept, the operator's added, auditforge's own
 * set, and the binding written only when asked for (otherwise the one already there is kept).
 */
async function writeTagSet(target: ControlTarget): Promise<void> {
  const existing = await bucketTags(target)
  const wanted = new Map<string, string>()
  for (const [key, value] of existing) if (!key.startsWith('auditforge:')) wanted.set(key, value)
  for (const tag of target.tags) wanted.set(tag.Key!, tag.Value ?? '')
  wanted.set(engagementIdTagKey, target.engagementId)
  wanted.set(managedByTag.Key!, managedByTag.Value!)
  const binding = target.bind ?? existing.get(indexTagKey)
  if (binding !== undefined) wanted.set(indexTagKey, binding)
  await writeBucketTags(target.s3, target.bucket, target.owner, wanted)
}

function describeTagDrift(engagementTag: string | undefined, managedBy: string | undefined): string {
  const problems = [
    engagementTag === undefined ? `${engagementIdTagKey} missing` : undefined,
    managedBy === undefined ? `${managedByTag.Key} missing` : undefined,
  ]
  return problems.filter(Boolean).join(', ') || `${engagementIdTagKey}=${engagementTag}, ${managedByTag.Key}=${managedBy}`
}

const publicAccessBlock = control({
  id: 'public-access-block',
  description: 'All four S3 Block Public Access settings on the bucket.',
  standards: {fsbp: ['S3.8'], cis: ['2.1.4'], prowler: ['s3_bucket_level_public_access_block']},
  step: 'Blocking public access',
  read: (target) =>
    readSetting(target.bucket, 'Reading the public access block', ['NoSuchPublicAccessBlockConfiguration'], () =>
      target.s3.send(new GetPublicAccessBlockCommand({Bucket: target.bucket, ExpectedBucketOwner: target.owner})),
    ).then((reply) => reply?.PublicAccessBlockConfiguration),
  evaluate(block) {
    const flags = [block?.BlockPublicAcls, block?.IgnorePublicAcls, block?.BlockPublicPolicy, block?.RestrictPublicBuckets]
    const on = flags.filter((flag) => flag === true).length
    return {ok: on === 4, expected: 'all four true', actual: block ? `${on} of 4 true` : 'not set'}
  },
  apply: (target) =>
    target.s3.send(
      new PutPublicAccessBlockCommand({
        Bucket: target.bucket,
        ExpectedBucketOwner: target.owner,
        PublicAccessBlockConfiguration: {BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true},
      }),
    ),
})

const objectOwnership = control({
  id: 'object-ownership',
  description: 'Object Ownership BucketOwnerEnforced: ACLs are off and the bucket owner owns every object.',
  standards: {fsbp: ['S3.12'], prowler: ['s3_bucket_acl_prohibited']},
  step: 'Enforcing bucket-owner object ownership',
  read: (target) =>
    readSetting(target.bucket, 'Reading object ownership', ['OwnershipControlsNotFoundError'], () =>
      target.s3.send(new GetBucketOwnershipControlsCommand({Bucket: target.bucket, ExpectedBucketOwner: target.owner})),
    ).then((reply) => reply?.OwnershipControls?.Rules?.[0]?.ObjectOwnership),
  evaluate: (ownership) => ({ok: ownership === 'BucketOwnerEnforced', expected: 'BucketOwnerEnforced', actual: ownership ?? 'not set'}),
  apply: (target) =>
    target.s3.send(
      new PutBucketOwnershipControlsCommand({
        Bucket: target.bucket,
        ExpectedBucketOwner: target.owner,
        OwnershipControls: {Rules: [{ObjectOwnership: 'BucketOwnerEnforced'}]},
      }),
    ),
})

const encryption = control({
  id: 'encryption',
  description: 'Default encryption: AES256 (SSE-S3), or SSE-KMS, which is stronger and kept.',
  standards: {prowler: ['s3_bucket_default_encryption']},
  step: 'Setting default encryption',
  read: (target) =>
    readSetting(target.bucket, 'Reading default encryption', ['ServerSideEncryptionConfigurationNotFoundError'], () =>
      target.s3.send(new GetBucketEncryptionCommand({Bucket: target.bucket, ExpectedBucketOwner: target.owner})),
    ).then((reply) => reply?.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm),
  // KMS is stronger than the AES256 minimum; a repair must never downgrade it.
  evaluate: (algorithm) => ({ok: ['AES256', 'aws:kms', 'aws:kms:dsse'].includes(algorithm ?? ''), expected: 'AES256', actual: algorithm ?? 'none'}),
  apply: (target) =>
    target.s3.send(
      new PutBucketEncryptionCommand({
        Bucket: target.bucket,
        ExpectedBucketOwner: target.owner,
        ServerSideEncryptionConfiguration: {Rules: [{ApplyServerSideEncryptionByDefault: {SSEAlgorithm: 'AES256'}}]},
      }),
    ),
})

const versioning = control({
  id: 'versioning',
  description: 'Versioning Enabled: every overwrite and delete keeps the earlier version as evidence.',
  standards: {fsbp: ['S3.14'], prowler: ['s3_bucket_object_versioning']},
  step: 'Enabling versioning',
  read: (target) =>
    readSetting(target.bucket, 'Reading versioning', [], () =>
      target.s3.send(new GetBucketVersioningCommand({Bucket: target.bucket, ExpectedBucketOwner: target.owner})),
    ).then((reply) => reply?.Status),
  evaluate: (status) => ({ok: status === 'Enabled', expected: 'Enabled', actual: status ?? 'never enabled'}),
  apply: (target) =>
    target.s3.send(new PutBucketVersioningCommand({Bucket: target.bucket, ExpectedBucketOwner: target.owner, VersioningConfiguration: {Status: 'Enabled'}})),
})

const tags = control({
  id: 'tags',
  description: `The tags ${engagementIdTagKey}=<id> and ${managedByTag.Key}=${managedByTag.Value}, plus the operator's --tag; other tags are kept.`,
  standards: {},
  step: 'Tagging the bucket',
  read: bucketTags,
  evaluate(found, target) {
    const engagementTag = found.get(engagementIdTagKey)
    const managedBy = found.get(managedByTag.Key!)
    const ok = engagementTag === target.engagementId && managedBy === managedByTag.Value
    return {
      ok,
      expected: `${engagementIdTagKey}=${target.engagementId}, ${managedByTag.Key}=${managedByTag.Value}`,
      actual: ok ? 'both auditforge tags' : describeTagDrift(engagementTag, managedBy),
    }
  },
  apply: writeTagSet,
})

const indexBinding = control({
  id: 'index-binding',
  description: `The tag ${indexTagKey}=<shared bucket> binds the bucket to the engagement index that owns it.`,
  standards: {},
  step: 'Binding the bucket to the engagement index',
  writtenWith: 'tags',
  read: bucketTags,
  evaluate(found, target) {
    const binding = found.get(indexTagKey)
    return {ok: binding === target.index, expected: `${indexTagKey}=${target.index}`, actual: binding === undefined ? 'not bound' : `${indexTagKey}=${binding}`}
  },
  apply: writeTagSet,
})

/**
 * Every control, in the order they are applied (and reported). Public access is blocked first:
 * the bucket is never public, even for a moment between steps.
 */
export const bucketControls = [publicAccessBlock, objectOwnership, encryption, versioning, tags, indexBinding] as const

export type ControlId = 'public-access-block' | 'object-ownership' | 'encryption' | 'versioning' | 'tags' | 'index-binding'

/** A fresh target: its shared reads start empty, so a check after a repair reads anew. */
export function controlTarget(fields: Omit<ControlTarget, 'once'>): ControlTarget {
  const reads = new Map<string, Promise<unknown>>()
  return {
    ...fields,
    once<T>(key: string, read: () => Promise<T>): Promise<T> {
      if (!reads.has(key)) reads.set(key, read())
      return reads.get(key) as Promise<T>
    },
  }
}

/**
 * Applies the controls (all, or those in `only`) in table order, reporting each step. A control
 * written with another one that is applied too is not written twice.
 */
export async function applyControls(
  target: ControlTarget,
  options: {only?: ReadonlySet<ControlId>; onStep?: (step: ControlId, text: string) => void} = {},
): Promise<void> {
  const applying = bucketControls.filter((entry) => !options.only || options.only.has(entry.id))
  const ids = new Set(applying.map((entry) => entry.id))
  for (const entry of applying) {
    if (entry.writtenWith && ids.has(entry.writtenWith)) continue
    options.onStep?.(entry.id, entry.step)
    await attempt({action: entry.step, bucket: target.bucket}, () => entry.apply(target))
  }
}

/** One row of a check: a control, whether it passes, and what was expected and found. */
export interface ControlCheck extends Verdict {
  control: 'owner' | ControlId
}

/** Reads every control back (concurrently; shared reads once) and judges each, in table order. */
export async function evaluateControls(target: ControlTarget): Promise<ControlCheck[]> {
  const values = await Promise.all(bucketControls.map((entry) => entry.read(target)))
  return bucketControls.map((entry, i) => ({control: entry.id, ...entry.evaluate(values[i], target)}))
}
