/**
 * The storage layout: the one module that builds every S3 key and bucket name auditforge uses
 * and decides which keys belong to which engagement. Nothing else concatenates them, so the
 * prefix-construction mistakes that per-engagement isolation exists to remove cannot creep back.
 */
import {randomBytes} from 'node:crypto'

import {invalidInput} from './errors.js'

/** Accepted on input (DESIGN.md): new ids are `eng-` + 12 lowercase hex. */
const engagementIdPattern = /^eng-[a-z0-9]{1,32}$/

const root = 'auditforge'

export const indexKey = `${root}/engagements.json`
export const firmsKey = `${root}/firms.json`
/** Next to the index: the per-engagement bucket names auditforge has decommissioned (tombstones). */
export const tombstonesKey = `${root}/decommissioned-buckets.json`
/** Where an engagement bucket's server access logs go in the access-log bucket: a prefix of its own. */
export const accessLogPrefix = (id: string): string => `${root}/access-logs/${validateEngagementId(id)}/`
/** Where `auditforge doctor` writes (and removes again) its conditional-write probe. */
export const doctorProbeKey = (token: string): string => `${root}/doctor/probe-${token}`

/** Returns the id unchanged when valid; otherwise a usage error (exit 2). */
export function validateEngagementId(id: string): string {
  if (!engagementIdPattern.test(id)) {
    throw invalidInput(
      `Invalid engagement id ${JSON.stringify(id)}: expected "eng-" followed by 1 to 32 lowercase letters or digits`,
      'Engagement ids look like eng-6715f196fa40; `auditforge engagement list` shows them.',
    )
  }
  return id
}

export function isEngagementId(id: string): boolean {
  return engagementIdPattern.test(id)
}

export function newEngagementId(): string {
  return `eng-${randomBytes(6).toString('hex')}`
}

/** The id without its `eng-` prefix, as used in bucket names. */
export function shortId(id: string): string {
  return validateEngagementId(id).slice('eng-'.length)
}

const engagementPrefix = (id: string): string => `${root}/engagements/${validateEngagementId(id)}/`

/** Every key of one engagement, the same in the shared bucket and in its own bucket. */
export const engagementKeys = {
  prefix: engagementPrefix,
  findings: (id: string): string => `${engagementPrefix(id)}findings.json`,
  auditLogPrefix: (id: string): string => `${engagementPrefix(id)}audit_log/`,
  auditLogShard: (id: string, shard: number): string => `${engagementPrefix(id)}audit_log/${shardName(shard)}`,
  source: (id: string, name: string): string => `${engagementPrefix(id)}source/${relative(name)}`,
  index: (id: string, name: string): string => `${engagementPrefix(id)}index/${relative(name)}`,
  deliverable: (id: string, extension: string): string =>
    `${root}/deliverables/${validateEngagementId(id)}.${deliverableExtension(extension)}`,
  methodology: (id: string): string => `${root}/deliverables/${validateEngagementId(id)}-methodology.md`,
  /**
   * `<id>-<YYYYMMDDTHHMMSS.mmmZ>-<6 hex>.<ext>`: unique per request (two exports in the same
   * millisecond still differ by the random token) and still sorted by time.
   */
  export: (id: string, at: Date, extension: 'jsonl' | 'json', token: string = randomBytes(3).toString('hex')): string =>
    `${root}/exports/${validateEngagementId(id)}-${exportTimestamp(at)}-${exportToken(token)}.${extension}`,
  legacyAuditLogPrefix: (id: string): string => `${root}/audit_logs/${validateEngagementId(id)}/`,
}

const migrationsPrefix = (id: string): string => `${root}/migrations/${validateEngagementId(id)}/`
const runIdPattern = /^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6}$/
const segmentPattern = /^[a-z0-9][a-z0-9-]{0,31}$/

/**
 * Migration evidence, in the engagement's own bucket under a prefix reserved for it: never an
 * engagement object (`ownsKey` is false for it, and migrate never lists it as data). One folder
 * per run, named so that runs sort by time; in it, segments of evidence lines (each segment
 * sorted by key, split into numbered chunks) and the run's summary.
 */
export const migrationKeys = {
  prefix: migrationsPrefix,
  /** A new run id: `<YYYYMMDDTHHMMSS.mmmZ>-<6 hex>`, sortable by time. */
  newRunId: (at: Date, token: string = randomBytes(3).toString('hex')): string =>
    `${exportTimestamp(at)}-${exportToken(token)}`,
  run: (id: string, runId: string): string => `${migrationsPrefix(id)}${validatedRunId(runId)}/`,
  chunk: (id: string, runId: string, segment: string, chunk: number): string =>
    `${migrationsPrefix(id)}${validatedRunId(runId)}/${validatedSegment(segment)}/objects-${chunkNumber(chunk)}.jsonl`,
  summary: (id: string, runId: string): string => `${migrationsPrefix(id)}${validatedRunId(runId)}/summary.json`,
  /**
   * `migrate purge-source` records, one folder per purge run under `purges/` (never a migration
   * run: run ids start with a date). Each holds the versions it set out to remove, in chunks per
   * phase (`noncurrent` versions go first, `current` ones last), and its record `purge.json`
   * (not `summary.json`: migration summaries are found by that name).
   */
  purges: (id: string): string => `${migrationsPrefix(id)}purges/`,
  purge: (id: string, purgeId: string): string => `${migrationsPrefix(id)}purges/${validatedRunId(purgeId)}/`,
  purgeRecord: (id: string, purgeId: string): string =>
    `${migrationsPrefix(id)}purges/${validatedRunId(purgeId)}/purge.json`,
  purgeChunk: (id: string, purgeId: string, phase: PurgePhase, chunk: number): string =>
    `${migrationsPrefix(id)}purges/${validatedRunId(purgeId)}/${purgePhase(phase)}-${chunkNumber(chunk)}.jsonl`,
  /**
   * Records of `migrate --verify-only` runs with deep checks, one object each, named like runs
   * (`<YYYYMMDDTHHMMSS.mmmZ>-<6 hex>`) so they sort by time; beside the runs, never one of them.
   */
  verificationsPrefix: (id: string): string => `${migrationsPrefix(id)}verifications/`,
  verification: (id: string, verificationId: string): string =>
    `${migrationsPrefix(id)}verifications/${validatedRunId(verificationId)}.json`,
}

const batchPrefix = (id: string): string => `${root}/batch-operations/${validateEngagementId(id)}/`

/**
 * The lease a `migrate --execute` run holds on an engagement while it copies and flips, in the
 * shared bucket beside the index (never an engagement object: `ownsKey` is false for it): one
 * object per engagement, so two runs never copy into the same bucket at once.
 */
export const leaseKeys = {
  migration: (id: string): string => `${root}/leases/migrate-${validateEngagementId(id)}.json`,
}

/**
 * S3 Batch Operations working files, in the shared bucket under a prefix reserved for them (never
 * an engagement object: `ownsKey` is false for it, so migrate, delete and purge never touch it).
 * One folder per migration run that created a job, named by that run's id (so folders sort by
 * time): the manifest the job copies from, the sidecar (the source identity of each manifest line,
 * in the same key order), the job's state, and the prefix its completion report is written under.
 */
export const batchKeys = {
  prefix: batchPrefix,
  run: (id: string, runId: string): string => `${batchPrefix(id)}${validatedRunId(runId)}/`,
  manifest: (id: string, runId: string): string => `${batchPrefix(id)}${validatedRunId(runId)}/manifest.csv`,
  sidecar: (id: string, runId: string): string => `${batchPrefix(id)}${validatedRunId(runId)}/sources.jsonl`,
  state: (id: string, runId: string): string => `${batchPrefix(id)}${validatedRunId(runId)}/job.json`,
  /** S3 writes the report under `<this>/job-<job id>/` (manifest.json, results/*.csv). */
  reportPrefix: (id: string, runId: string): string => `${batchPrefix(id)}${validatedRunId(runId)}/report`,
}

/** The run id of a batch job state key (`…/batch-operations/<id>/<run>/job.json`); undefined for any other key. */
export function parseBatchStateKey(id: string, key: string): string | undefined {
  const prefix = batchPrefix(id)
  if (!key.startsWith(prefix)) return undefined
  const match = /^([^/]+)\/job\.json$/.exec(key.slice(prefix.length))
  return match && runIdPattern.test(match[1]) ? match[1] : undefined
}

/** The run id of a batch manifest key (`…/batch-operations/<id>/<run>/manifest.csv`); undefined for any other key. */
export function parseBatchManifestKey(id: string, key: string): string | undefined {
  const prefix = batchPrefix(id)
  if (!key.startsWith(prefix)) return undefined
  const match = /^([^/]+)\/manifest\.csv$/.exec(key.slice(prefix.length))
  return match && runIdPattern.test(match[1]) ? match[1] : undefined
}

/** The two phases of a purge: history first, then the current versions and delete markers. */
export type PurgePhase = 'noncurrent' | 'current'

function purgePhase(phase: string): PurgePhase {
  if (phase !== 'noncurrent' && phase !== 'current') throw invalidInput(`Invalid purge phase ${JSON.stringify(phase)}`)
  return phase
}

/** The purge id of a purge record's key (`…/purges/<id>/purge.json`); undefined for any other key. */
export function parsePurgeRecordKey(id: string, key: string): string | undefined {
  const prefix = `${migrationsPrefix(id)}purges/`
  if (!key.startsWith(prefix)) return undefined
  const match = /^([^/]+)\/purge\.json$/.exec(key.slice(prefix.length))
  return match && runIdPattern.test(match[1]) ? match[1] : undefined
}

/** Splits an evidence key back into its run, segment and chunk; undefined for anything else. */
export function parseEvidenceKey(id: string, key: string): {runId: string; segment: string; chunk: number} | undefined {
  const prefix = migrationsPrefix(id)
  if (!key.startsWith(prefix)) return undefined
  const match = /^([^/]+)\/([^/]+)\/objects-(\d{5})\.jsonl$/.exec(key.slice(prefix.length))
  if (!match || !runIdPattern.test(match[1]) || !segmentPattern.test(match[2])) return undefined
  return {runId: match[1], segment: match[2], chunk: Number(match[3])}
}

function validatedRunId(runId: string): string {
  if (!runIdPattern.test(runId)) throw invalidInput(`Invalid migration run id ${JSON.stringify(runId)}`)
  return runId
}

function validatedSegment(segment: string): string {
  if (!segmentPattern.test(segment)) throw invalidInput(`Invalid evidence segment ${JSON.stringify(segment)}`)
  return segment
}

function chunkNumber(chunk: number): string {
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > 99_999)
    throw invalidInput(`Invalid evidence chunk number ${chunk}`)
  return String(chunk).padStart(5, '0')
}

/**
 * The prefixes to list to find every object of an engagement. Some are wider than the
 * engagement (`auditforge/deliverables/eng-abc` also lists `eng-abcd.json`), so every listed
 * key must still pass {@link ownsKey}.
 */
export function engagementListPrefixes(id: string): string[] {
  validateEngagementId(id)
  return [
    engagementKeys.prefix(id),
    engagementKeys.legacyAuditLogPrefix(id),
    `${root}/deliverables/${id}`,
    `${root}/exports/${id}-`,
  ]
}

/** Export names: today's `<ts.mmm>Z-<token>` and the older whole-second form, both owned. */
const exportNamePattern = /^\d{8}T\d{6}(\.\d{3}Z-[0-9a-f]{6}|Z)\.(jsonl|json)$/

/**
 * Whether a key is one of this engagement's objects. Matching is exact: `eng-abc` owns
 * `auditforge/deliverables/eng-abc.json` and never `auditforge/deliverables/eng-abcd.json`.
 */
export function ownsKey(id: string, key: string): boolean {
  validateEngagementId(id)
  for (const prefix of [engagementKeys.prefix(id), engagementKeys.legacyAuditLogPrefix(id)]) {
    if (key.startsWith(prefix)) return key.length > prefix.length
  }
  const deliverables = `${root}/deliverables/`
  if (key.startsWith(deliverables)) {
    const name = key.slice(deliverables.length)
    if (name === `${id}-methodology.md`) return true
    // Ids never contain a dot, so "<id>." can only start this engagement's own deliverable.
    return name.startsWith(`${id}.`) && name.length > id.length + 1 && !name.includes('/')
  }
  const exportsPrefix = `${root}/exports/${id}-`
  if (key.startsWith(exportsPrefix)) return exportNamePattern.test(key.slice(exportsPrefix.length))
  return false
}

/** The audit-log shard number of a key under the engagement's audit_log/ prefix, if it is one. */
export function shardNumberOf(id: string, key: string): number | undefined {
  const prefix = engagementKeys.auditLogPrefix(id)
  if (!key.startsWith(prefix)) return undefined
  const match = /^shard-(\d{5,})\.jsonl$/.exec(key.slice(prefix.length))
  return match ? Number(match[1]) : undefined
}

function shardName(shard: number): string {
  if (!Number.isInteger(shard) || shard < 0 || shard > 99_999)
    throw invalidInput(`Invalid audit-log shard number ${shard}`)
  return `shard-${String(shard).padStart(5, '0')}.jsonl`
}

function deliverableExtension(extension: string): string {
  if (!/^[a-z0-9][a-z0-9.]{0,15}$/i.test(extension))
    throw invalidInput(`Invalid deliverable extension ${JSON.stringify(extension)}`)
  return extension
}

function relative(name: string): string {
  const parts = name.split('/')
  if (name === '' || name.startsWith('/') || parts.some((part) => part === '..' || part === '.' || part === '')) {
    throw invalidInput(`Invalid object name ${JSON.stringify(name)}: must be a relative path without "." or ".." parts`)
  }
  return name
}

/** `YYYYMMDDTHHMMSS.mmmZ` (ISO 8601 basic format, milliseconds), as used in export keys. */
export function exportTimestamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, '')
}

function exportToken(token: string): string {
  if (!/^[0-9a-f]{6}$/.test(token))
    throw invalidInput(`Invalid export token ${JSON.stringify(token)}: expected 6 lowercase hex digits`)
  return token
}

export const defaultBucketPrefix = 'metis-af-'
const accountIdPattern = /^\d{12}$/

export function validateAccountId(accountId: string): string {
  if (!accountIdPattern.test(accountId)) {
    throw invalidInput(`Invalid AWS account id ${JSON.stringify(accountId)}: expected 12 digits`)
  }
  return accountId
}

/**
 * Where a per-engagement bucket's name lives: S3's global namespace, where anyone can create any
 * free name, or the account-regional namespace (`<name>-<account>-<region>-an`, created with
 * the `x-amz-bucket-namespace: account-regional` header), where only this account can.
 */
export type BucketNamespace = 'global' | 'account-regional'

export const bucketNamespaces: readonly BucketNamespace[] = ['global', 'account-regional']

const regionPattern = /^[a-z]{2}(-[a-z0-9]+)+-\d{1,2}$/

/**
 * `<prefix><id without "eng-">-<account id>`, e.g. `metis-af-6715f196fa40-741783034843`; in the
 * account-regional namespace `<prefix><id without "eng-">-<account id>-<region>-an`, e.g.
 * `metis-af-6715f196fa40-741783034843-eu-west-1-an`.
 */
export function engagementBucketName(
  prefix: string,
  id: string,
  accountId: string,
  namespace: {namespace: BucketNamespace; region?: string} = {namespace: 'global'},
): string {
  let name = `${prefix}${shortId(id)}-${validateAccountId(accountId)}`
  if (namespace.namespace === 'account-regional') {
    if (!namespace.region || !regionPattern.test(namespace.region)) {
      throw invalidInput(
        `An account-regional bucket name needs the region it is created in (got ${JSON.stringify(namespace.region ?? '')})`,
        'Set --region or AWS_REGION.',
      )
    }
    name = `${name}-${namespace.region}-an`
  }
  const problem = bucketNameProblem(name)
  if (problem) {
    throw invalidInput(`The bucket name ${name} for ${id} is not valid: ${problem}`, 'Check AUDITFORGE_BUCKET_PREFIX.')
  }
  return name
}

/** A per-engagement bucket name taken apart; `region` only in the account-regional form. */
export interface ParsedBucketName {
  engagementId: string
  accountId: string
  /** Set for the account-regional form (`...-<account>-<region>-an`): the region in its name. */
  region?: string
}

/**
 * Parses a per-engagement bucket name of either form, `<prefix><short id>-<12-digit account>`
 * or `<prefix><short id>-<12-digit account>-<region>-an`; undefined for any other name.
 */
export function parseEngagementBucketName(prefix: string, name: string): ParsedBucketName | undefined {
  if (!name.startsWith(prefix)) return undefined
  const match = /^([a-z0-9]{1,32})-(\d{12})(?:-([a-z]{2}(?:-[a-z0-9]+)+-\d{1,2})-an)?$/.exec(name.slice(prefix.length))
  if (!match || bucketNameProblem(name)) return undefined
  return {engagementId: `eng-${match[1]}`, accountId: match[2], ...(match[3] ? {region: match[3]} : {})}
}

/** Why a name breaks S3's general-purpose bucket naming rules, or undefined when it does not. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'must be 3 to 63 characters long'
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    return 'must use only lowercase letters, digits, dots and hyphens, and begin and end with a letter or digit'
  }
  if (name.includes('..')) return 'must not contain two adjacent dots'
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return 'must not be formatted as an IP address'
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name)) return 'must not start with a reserved prefix'
  if (/(-s3alias|--ol-s3|--x-s3|--table-s3)$/.test(name)) return 'must not end with a reserved suffix'
  return undefined
}

export function validateBucketName(name: string, what = 'bucket name'): string {
  const problem = bucketNameProblem(name)
  if (problem) throw invalidInput(`Invalid ${what} ${JSON.stringify(name)}: ${problem}`)
  return name
}

/** A bucket prefix is valid when a name built from it can be: lowercase, digits, hyphens, dots. */
export function validateBucketPrefix(prefix: string): string {
  if (!/^[a-z0-9][a-z0-9.-]{0,16}$/.test(prefix) || prefix.includes('..')) {
    throw invalidInput(
      `Invalid AUDITFORGE_BUCKET_PREFIX ${JSON.stringify(prefix)}: expected up to 17 lowercase letters, digits, dots or hyphens`,
    )
  }
  return prefix
}
