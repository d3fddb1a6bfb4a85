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
  GetBucketLoggingCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  PutBucketEncryptionCommand,
  PutBucketLoggingCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketVersioningCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
  type Tag,
} from '@aws-sdk/client-s3'

import type {CloudTrailClient} from '@aws-sdk/client-cloudtrail'

import {type AwsContext, createCloudTrailClient} from '../aws.js'
import {type ControlSettings, requireSharedBucket} from '../config.js'
import {attempt} from '../errors.js'
import {accessLogPrefix} from '../layout.js'
import {readBucketSetting, readBucketTags, writeBucketTags} from '../s3/index.js'
import {regionOf} from './names.js'
import {lifecycleDrift, readLifecycle, wantedRules, writeLifecycle} from './lifecycle.js'
import {
  type PolicyStatement,
  auditforgeSidPrefix,
  bucketResources,
  ownStatement,
  partitionOf,
  readPolicy,
  sameStatement,
  writePolicy,
} from './policy.js'
import {assertBoundTo, engagementIdTagKey, indexTagKey, managedByTag} from './tags.js'
import {coversBucket, readTrailSelectors, selectorName, writeTrailSelectors} from './trail.js'
import {plural} from '../wording.js'

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
  /** The operator's choices (`--kms-key-id`, lifecycle days, ...). */
  readonly controls: ControlSettings
  /** The S3 endpoint is plain `http://` (a local server): no request can be TLS. */
  readonly plainHttp: boolean
  /** The ARN partition the bucket lives in (`aws`, `aws-cn`, `aws-us-gov`). */
  readonly partition: string
  /** A CloudTrail client of this run, made on demand (only with a trail configured); the caller destroys it. */
  readonly cloudTrail: () => Promise<CloudTrailClient>
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
  /** When it applies, in words, for the README's table ("always", "with --kms-key-id", ...). */
  appliesWhen: string
  /** Why it does not apply on this endpoint (undefined: it applies); shown as "skipped", and warned about. */
  skip?(target: ControlTarget): string | undefined
  /** For an opt-in control: how to turn it on when the operator has not (undefined: it is on). */
  notConfigured?(target: ControlTarget): string | undefined
  /**
   * For an opt-in control whose setting restricts access: what it left on the bucket when it is
   * not configured (a verdict that fails), or undefined. Reported as drift and never removed by
   * `--fix`: dropping the option must not widen access to a bucket.
   */
  leftWhenOff?(target: ControlTarget): Promise<Verdict | undefined>
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

const bucketTags = (target: ControlTarget) =>
  target.once('tags', () => readBucketTags(target.s3, target.bucket, target.owner))

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
  // Binding a bucket is decided on an earlier read: one bound meanwhile (another environment
  // claiming it) is not taken over.
  if (target.bind !== undefined)
    assertBoundTo(target.bucket, existing.get(indexTagKey) ?? target.bind, target.bind, {unboundOk: true})
  const binding = target.bind ?? existing.get(indexTagKey)
  if (binding !== undefined) wanted.set(indexTagKey, binding)
  await writeBucketTags(target.s3, target.bucket, target.owner, wanted)
}

function describeTagDrift(engagementTag: string | undefined, managedBy: string | undefined): string {
  const problems = [
    engagementTag === undefined ? `${engagementIdTagKey} missing` : undefined,
    managedBy === undefined ? `${managedByTag.Key} missing` : undefined,
  ]
  return (
    problems.filter(Boolean).join(', ') || `${engagementIdTagKey}=${engagementTag}, ${managedByTag.Key}=${managedBy}`
  )
}

const publicAccessBlock = control({
  id: 'public-access-block',
  appliesWhen: 'always',
  description: 'All four S3 Block Public Access settings on the bucket.',
  standards: {fsbp: ['S3.8'], cis: ['2.1.4'], prowler: ['s3_bucket_level_public_access_block']},
  step: 'Blocking public access',
  read: (target) =>
    readBucketSetting(target.bucket, 'Reading the public access block', ['NoSuchPublicAccessBlockConfiguration'], () =>
      target.s3.send(new GetPublicAccessBlockCommand({Bucket: target.bucket, ExpectedBucketOwner: target.owner})),
    ).then((reply) => reply?.PublicAccessBlockConfiguration),
  evaluate(block) {
    const flags = [
      block?.BlockPublicAcls,
      block?.IgnorePublicAcls,
      block?.BlockPublicPolicy,
      block?.RestrictPublicBuckets,
    ]
    const on = flags.filter((flag) => flag === true).length
    return {ok: on === 4, expected: 'all four true', actual: block ? `${on} of 4 true` : 'not set'}
  },
  apply: (target) =>
    target.s3.send(
      new PutPublicAccessBlockCommand({
        Bucket: target.bucket,
        ExpectedBucketOwner: target.owner,
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          IgnorePublicAcls: true,
          BlockPublicPolicy: true,
          RestrictPublicBuckets: true,
        },
      }),
    ),
})

const objectOwnership = control({
  id: 'object-ownership',
  appliesWhen: 'always',
  description: 'Object Ownership BucketOwnerEnforced: ACLs are off and the bucket owner owns every object.',
  standards: {fsbp: ['S3.12'], prowler: ['s3_bucket_acl_prohibited']},
  step: 'Enforcing bucket-owner object ownership',
  read: (target) =>
    readBucketSetting(target.bucket, 'Reading object ownership', ['OwnershipControlsNotFoundError'], () =>
      target.s3.send(new GetBucketOwnershipControlsCommand({Bucket: target.bucket, ExpectedBucketOwner: target.owner})),
    ).then((reply) => reply?.OwnershipControls?.Rules?.[0]?.ObjectOwnership),
  evaluate: (ownership) => ({
    ok: ownership === 'BucketOwnerEnforced',
    expected: 'BucketOwnerEnforced',
    actual: ownership ?? 'not set',
  }),
  apply: (target) =>
    target.s3.send(
      new PutBucketOwnershipControlsCommand({
        Bucket: target.bucket,
        ExpectedBucketOwner: target.owner,
        OwnershipControls: {Rules: [{ObjectOwnership: 'BucketOwnerEnforced'}]},
      }),
    ),
})

/** What default encryption the operator wants: SSE-KMS with their key, or at least AES256. */
interface EncryptionSetting {
  algorithm?: string
  keyId?: string
  bucketKey?: boolean
}

const kmsAlgorithms = ['aws:kms', 'aws:kms:dsse']

/** Whether two ways of naming a KMS key name the same key (an ARN and its bare key id, say). */
function sameKey(found: string | undefined, wanted: string): boolean {
  if (found === undefined) return false
  return found === wanted || found.endsWith(`/${wanted}`) || wanted.endsWith(`/${found}`)
}

const readEncryption = (target: ControlTarget): Promise<EncryptionSetting> =>
  target.once('encryption', async () => {
    const reply = await readBucketSetting(
      target.bucket,
      'Reading default encryption',
      ['ServerSideEncryptionConfigurationNotFoundError'],
      () => target.s3.send(new GetBucketEncryptionCommand({Bucket: target.bucket, ExpectedBucketOwner: target.owner})),
    )
    const rule = reply?.ServerSideEncryptionConfiguration?.Rules?.[0]
    return {
      algorithm: rule?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm,
      keyId: rule?.ApplyServerSideEncryptionByDefault?.KMSMasterKeyID,
      bucketKey: rule?.BucketKeyEnabled,
    }
  })

const encryption = control({
  id: 'encryption',
  description:
    'Default encryption AES256 (SSE-S3), or SSE-KMS with --kms-key-id and an S3 Bucket Key; an SSE-KMS bucket is never downgraded.',
  standards: {prowler: ['s3_bucket_default_encryption']},
  appliesWhen: 'always',
  step: 'Setting default encryption',
  read: readEncryption,
  evaluate({algorithm, keyId, bucketKey}, target) {
    const wantedKey = target.controls.kmsKeyId
    const actual =
      algorithm === undefined ? 'none' : keyId ? `${algorithm} (${keyId}${bucketKey ? ', bucket key' : ''})` : algorithm
    if (wantedKey !== undefined) {
      const ok = kmsAlgorithms.includes(algorithm ?? '') && sameKey(keyId, wantedKey) && bucketKey === true
      return {ok, expected: `aws:kms (${wantedKey}, bucket key)`, actual}
    }
    // KMS is stronger than the AES256 minimum; it passes and is never replaced.
    return {ok: ['AES256', ...kmsAlgorithms].includes(algorithm ?? ''), expected: 'AES256 or aws:kms', actual}
  },
  async apply(target) {
    const wantedKey = target.controls.kmsKeyId
    const current = await readEncryption(target)
    if (wantedKey === undefined && kmsAlgorithms.includes(current.algorithm ?? '')) return
    // DSSE-KMS is SSE-KMS with a second layer: asked for a key, it keeps its layers.
    const algorithm =
      wantedKey === undefined ? 'AES256' : current.algorithm === 'aws:kms:dsse' ? 'aws:kms:dsse' : 'aws:kms'
    await target.s3.send(
      new PutBucketEncryptionCommand({
        Bucket: target.bucket,
        ExpectedBucketOwner: target.owner,
        ServerSideEncryptionConfiguration: {
          Rules: [
            wantedKey === undefined
              ? {ApplyServerSideEncryptionByDefault: {SSEAlgorithm: 'AES256'}}
              : {
                  ApplyServerSideEncryptionByDefault: {SSEAlgorithm: algorithm as 'aws:kms', KMSMasterKeyID: wantedKey},
                  BucketKeyEnabled: true,
                },
          ],
        },
      }),
    )
  },
})

const versioning = control({
  id: 'versioning',
  appliesWhen: 'always',
  description: 'Versioning Enabled: every overwrite and delete keeps the earlier version as evidence.',
  standards: {fsbp: ['S3.14'], prowler: ['s3_bucket_object_versioning']},
  step: 'Enabling versioning',
  read: (target) =>
    readBucketSetting(target.bucket, 'Reading versioning', [], () =>
      target.s3.send(new GetBucketVersioningCommand({Bucket: target.bucket, ExpectedBucketOwner: target.owner})),
    ).then((reply) => reply?.Status),
  evaluate: (status) => ({ok: status === 'Enabled', expected: 'Enabled', actual: status ?? 'never enabled'}),
  apply: (target) =>
    target.s3.send(
      new PutBucketVersioningCommand({
        Bucket: target.bucket,
        ExpectedBucketOwner: target.owner,
        VersioningConfiguration: {Status: 'Enabled'},
      }),
    ),
})

/** The Sid of auditforge's TLS-only statement. */
export const tlsOnlySid = `${auditforgeSidPrefix}DenyInsecureTransport`

function tlsOnlyStatement(target: ControlTarget): PolicyStatement {
  return {
    Sid: tlsOnlySid,
    Effect: 'Deny',
    Principal: '*',
    Action: 's3:*',
    Resource: bucketResources(target),
    Condition: {Bool: {'aws:SecureTransport': 'false'}},
  }
}

/** The principals a least-privilege statement lets through. */
function allowedBy(statement: PolicyStatement): string {
  return [statement.Condition?.ArnNotLike?.['aws:PrincipalArn'] ?? []].flat().join(', ') || 'nobody'
}

/** The Sid of auditforge's least-privilege statement. */
export const leastPrivilegeSid = `${auditforgeSidPrefix}DenyOtherPrincipals`

/**
 * Deny for every principal not allowed. A condition on aws:PrincipalArn rather than
 * NotPrincipal: with NotPrincipal a role's session would have to be named to be let through, and
 * AWS advises against it.
 */
function leastPrivilegeStatement(target: ControlTarget): PolicyStatement {
  return {
    Sid: leastPrivilegeSid,
    Effect: 'Deny',
    Principal: '*',
    Action: 's3:*',
    Resource: bucketResources(target),
    Condition: {ArnNotLike: {'aws:PrincipalArn': target.controls.allowedPrincipals}},
  }
}

/**
 * auditforge's statements for the policy controls that apply here, by Sid: both go into one
 * document in one write, whichever of them is being applied.
 */
function wantedStatements(target: ControlTarget): Map<string, PolicyStatement | undefined> {
  const wanted = new Map<string, PolicyStatement | undefined>()
  if (!tlsOnly.skip!(target)) wanted.set(tlsOnlySid, tlsOnlyStatement(target))
  if (!leastPrivilege.notConfigured!(target)) wanted.set(leastPrivilegeSid, leastPrivilegeStatement(target))
  return wanted
}

const tlsOnly = control({
  id: 'tls-only',
  description:
    'Bucket policy denying every request (s3:*) to the bucket and its objects that does not use TLS (aws:SecureTransport false).',
  standards: {fsbp: ['S3.5'], cis: ['2.1.1'], prowler: ['s3_bucket_secure_transport_policy']},
  appliesWhen: 'not on a plain-http:// endpoint (no request there could pass it)',
  skip: (target) => (target.plainHttp ? 'plain-http endpoint: every request would be denied' : undefined),
  step: 'Denying requests without TLS in the bucket policy',
  // auditforge's own statement, or else any statement of the operator's that says the same.
  read: (target) =>
    readPolicy(target).then(
      (policy) =>
        ownStatement(policy, tlsOnlySid) ??
        policy?.Statement.find((statement) => sameStatement(statement, tlsOnlyStatement(target))),
    ),
  evaluate(found, target) {
    const ok = sameStatement(found, tlsOnlyStatement(target))
    const actual =
      found === undefined
        ? 'no such statement'
        : ok
          ? `statement ${found.Sid ?? '(no Sid)'}`
          : `statement ${found.Sid} changed`
    return {ok, expected: `Deny s3:* without aws:SecureTransport (${tlsOnlySid})`, actual}
  },
  apply: (target) => writePolicy(target, wantedStatements(target)),
})

const leastPrivilege = control({
  id: 'least-privilege',
  description:
    'Bucket policy denying every principal not listed with --allow-principal (aws:PrincipalArn with ArnNotLike), in one document with the TLS-only statement; a list that leaves out the caller is refused.',
  standards: {},
  appliesWhen: 'with --allow-principal',
  notConfigured: (target) => (target.controls.allowedPrincipals.length === 0 ? '--allow-principal' : undefined),
  writtenWith: 'tls-only',
  step: 'Denying every principal not allowed in the bucket policy',
  read: (target) => readPolicy(target).then((policy) => ownStatement(policy, leastPrivilegeSid)),
  evaluate(found, target) {
    const wanted = leastPrivilegeStatement(target)
    const ok = sameStatement(found, wanted)
    const actual =
      found === undefined
        ? 'no such statement'
        : ok
          ? `only ${allowedBy(found)}`
          : `statement changed: allows ${allowedBy(found)}`
    return {ok, expected: `only ${allowedBy(wanted)}`, actual}
  },
  async leftWhenOff(target) {
    const found = ownStatement(await readPolicy(target), leastPrivilegeSid)
    if (found === undefined) return undefined
    return {
      ok: false,
      expected: 'no least-privilege statement (--allow-principal not set)',
      actual: `not configured but present: allows only ${allowedBy(found)} (--fix keeps it: pass that list to check it, or delete statement ${leastPrivilegeSid} by hand)`,
    }
  },
  apply: (target) => writePolicy(target, wantedStatements(target)),
})

const lifecycle = control({
  id: 'lifecycle',
  description:
    'Lifecycle rules, merged with any others: abort incomplete multipart uploads after 7 days; remove expired delete markers; findings.json to DEEP_ARCHIVE after --archive-findings-after-days (90; 0 = off); old versions expired after --noncurrent-days (off).',
  standards: {fsbp: ['S3.13', 'S3.10'], prowler: ['s3_bucket_lifecycle_enabled']},
  appliesWhen: 'always',
  step: 'Setting the lifecycle rules',
  read: readLifecycle,
  evaluate(state, target) {
    const wanted = wantedRules(target)
    const drift = lifecycleDrift(state, wanted)
    const problems = [
      drift.missing.length > 0 ? `missing ${drift.missing.join(', ')}` : undefined,
      drift.changed.length > 0 ? `changed ${drift.changed.join(', ')}` : undefined,
      drift.unwanted.length > 0 ? `not configured but present ${drift.unwanted.join(', ')}` : undefined,
    ].filter(Boolean)
    const others = state.rules.length - (wanted.length - drift.missing.length) - drift.unwanted.length
    return {
      ok: problems.length === 0,
      expected: wanted.map((rule) => rule.ID).join(', '),
      actual:
        problems.length > 0
          ? problems.join('; ')
          : `${plural(wanted.length, 'auditforge rule')}${others > 0 ? ` and ${plural(others, 'other')}` : ''}`,
    }
  },
  apply: writeLifecycle,
})

const accessLogging = control({
  id: 'access-logging',
  description: 'Server access logging into --access-log-bucket, under auditforge/access-logs/<engagement id>/.',
  standards: {fsbp: ['S3.9'], prowler: ['s3_bucket_server_access_logging_enabled']},
  appliesWhen: 'with --access-log-bucket',
  notConfigured: (target) => (target.controls.accessLogBucket === undefined ? '--access-log-bucket' : undefined),
  step: 'Turning on server access logging',
  read: (target) =>
    readBucketSetting(target.bucket, 'Reading server access logging', [], () =>
      target.s3.send(new GetBucketLoggingCommand({Bucket: target.bucket, ExpectedBucketOwner: target.owner})),
    ).then((reply) => reply?.LoggingEnabled),
  evaluate(logging, target) {
    const expected = `s3://${target.controls.accessLogBucket}/${accessLogPrefix(target.engagementId)}`
    const actual = logging?.TargetBucket ? `s3://${logging.TargetBucket}/${logging.TargetPrefix ?? ''}` : 'off'
    return {ok: actual === expected, expected, actual}
  },
  apply: (target) =>
    target.s3.send(
      new PutBucketLoggingCommand({
        Bucket: target.bucket,
        ExpectedBucketOwner: target.owner,
        BucketLoggingStatus: {
          LoggingEnabled: {
            TargetBucket: target.controls.accessLogBucket,
            TargetPrefix: accessLogPrefix(target.engagementId),
          },
        },
      }),
    ),
})

const cloudTrailDataEvents = control({
  id: 'cloudtrail-data-events',
  description:
    "An advanced event selector on the trail --cloudtrail-trail for every object-level event (reads and writes) of the bucket; the trail's other selectors are kept.",
  standards: {
    fsbp: ['S3.22', 'S3.23'],
    cis: ['3.8', '3.9'],
    prowler: ['cloudtrail_s3_dataevents_write_enabled', 'cloudtrail_s3_dataevents_read_enabled'],
  },
  appliesWhen: 'with --cloudtrail-trail',
  notConfigured: (target) => (target.controls.cloudtrailTrail === undefined ? '--cloudtrail-trail' : undefined),
  step: "Adding the bucket's data events to the CloudTrail trail",
  read: readTrailSelectors,
  evaluate(selectors, target) {
    const ok = coversBucket(selectors, target)
    const own = selectors.advanced.some((selector) => selector.Name === selectorName(target.bucket))
    return {
      ok,
      expected: `data events of s3://${target.bucket} on ${target.controls.cloudtrailTrail}`,
      actual: ok
        ? own
          ? `selector "${selectorName(target.bucket)}"`
          : 'covered by another selector'
        : `not logged by ${target.controls.cloudtrailTrail}`,
    }
  },
  apply: writeTrailSelectors,
})

const tags = control({
  id: 'tags',
  appliesWhen: 'always',
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
  appliesWhen: 'always',
  description: `The tag ${indexTagKey}=<shared bucket> binds the bucket to the engagement index that owns it.`,
  standards: {},
  step: 'Binding the bucket to the engagement index',
  writtenWith: 'tags',
  read: bucketTags,
  evaluate(found, target) {
    const binding = found.get(indexTagKey)
    return {
      ok: binding === target.index,
      expected: `${indexTagKey}=${target.index}`,
      actual: binding === undefined ? 'not bound' : `${indexTagKey}=${binding}`,
    }
  },
  apply: writeTagSet,
})

/**
 * Every control, in the order they are applied (and reported). Public access is blocked first:
 * the bucket is never public, even for a moment between steps.
 */
export const bucketControls = [
  publicAccessBlock,
  objectOwnership,
  encryption,
  versioning,
  tlsOnly,
  leastPrivilege,
  lifecycle,
  accessLogging,
  cloudTrailDataEvents,
  tags,
  indexBinding,
] as const

export type ControlId =
  | 'public-access-block'
  | 'object-ownership'
  | 'encryption'
  | 'versioning'
  | 'tls-only'
  | 'least-privilege'
  | 'lifecycle'
  | 'access-logging'
  | 'cloudtrail-data-events'
  | 'tags'
  | 'index-binding'

/**
 * The target for a bucket of this run: its client, the owner, the configured index and the
 * operator's control settings. Fresh each time: its shared reads start empty, so a check after a
 * repair reads anew.
 */
export async function controlTargetFor(
  context: AwsContext,
  fields: {bucket: string; engagementId: string; tags?: readonly Tag[]; bind?: string},
): Promise<ControlTarget> {
  const region = await regionOf(context)
  return controlTarget({
    s3: context.s3,
    owner: await context.accountId(),
    index: requireSharedBucket(context.settings),
    controls: context.settings.controls,
    plainHttp: context.settings.endpoints.s3?.toLowerCase().startsWith('http:') ?? false,
    partition: partitionOf(region),
    cloudTrail: () => createCloudTrailClient(context.settings, context.credentials),
    tags: [],
    ...fields,
  })
}

/** A fresh target from its fields. */
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

/** A control that does not apply here, and why. */
export interface SkippedControl {
  control: ControlId
  reason: string
}

/**
 * Applies the controls (all, or those in `only`) in table order, reporting each step, and
 * returns those skipped because they do not apply here. A control written with another one
 * that is applied too is not written twice.
 */
export async function applyControls(
  target: ControlTarget,
  options: {only?: ReadonlySet<ControlId>; onStep?: (step: ControlId, text: string) => void} = {},
): Promise<SkippedControl[]> {
  const skipped: SkippedControl[] = []
  const applying = bucketControls.filter((entry) => {
    if (options.only && !options.only.has(entry.id)) return false
    if (entry.notConfigured?.(target) !== undefined) return false
    const reason = entry.skip?.(target)
    if (reason !== undefined) skipped.push({control: entry.id, reason})
    return reason === undefined
  })
  const ids = new Set(applying.map((entry) => entry.id))
  for (const entry of applying) {
    if (entry.writtenWith && ids.has(entry.writtenWith)) continue
    options.onStep?.(entry.id, entry.step)
    await attempt({action: entry.step, bucket: target.bucket}, () => entry.apply(target))
  }
  return skipped
}

export type ControlStatus = 'pass' | 'fail' | 'skipped'

/**
 * One row of a check: a control, its status, and what was expected and found. `ok` is false
 * only for a failing control: a skipped one has not drifted, and has not passed either.
 */
export interface ControlCheck extends Verdict {
  control: 'owner' | ControlId
  status: ControlStatus
  standards: Standards
}

/** Why a control is not checked here: an opt-in control that is off, or one that does not apply on this endpoint. */
function skipReason(entry: BucketControl, target: ControlTarget): string | undefined {
  const off = entry.notConfigured?.(target)
  return off === undefined ? entry.skip?.(target) : `not configured (${off})`
}

/** Reads every control that applies back (concurrently; shared reads once) and judges each, in table order. */
export async function evaluateControls(target: ControlTarget): Promise<ControlCheck[]> {
  const skips = bucketControls.map((entry) => skipReason(entry, target))
  const values = await Promise.all(
    bucketControls.map((entry, i) => (skips[i] === undefined ? entry.read(target) : undefined)),
  )
  const leftovers = await Promise.all(
    bucketControls.map((entry) =>
      entry.notConfigured?.(target) === undefined ? undefined : entry.leftWhenOff?.(target),
    ),
  )
  return bucketControls.map((entry, i) => {
    const row = {control: entry.id, standards: entry.standards}
    if (leftovers[i] !== undefined) return {...row, status: 'fail', ...leftovers[i]}
    if (skips[i] !== undefined)
      return {...row, status: 'skipped', ok: true, expected: 'not checked here', actual: `skipped: ${skips[i]}`}
    const verdict = entry.evaluate(values[i], target)
    return {...row, status: verdict.ok ? 'pass' : 'fail', ...verdict}
  })
}
