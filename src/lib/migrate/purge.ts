/**
 * `migrate purge-source`: after the soak, removes a migrated engagement's objects (every version
 * and delete marker) from the shared bucket. Off by default and separate from migrate, because it
 * is the one step after which the shared bucket no longer holds the data and a rollback is
 * impossible.
 *
 * It runs only when the record has pointed at the engagement's own bucket for at least the
 * minimum age (measured from the evidence's flip, never from object dates) and a fresh
 * verification against the evidence passes at that moment. What it removes is recorded in the
 * engagement's bucket under the reserved migrations prefix before anything is deleted (the
 * intent: every version listed, in chunks, and the purge record), and completed afterwards, so
 * an interrupted purge is provable and a re-run lists what is left and finishes.
 *
 * Deletion is by explicit version id, only of versions listed before the verification that
 * allowed it, and in two phases: the history (non-current versions) first, the current versions
 * and delete markers last. Interrupted in the first phase, the shared bucket's current objects
 * are untouched; in the second, a key is either whole or gone. Either way the verification of a
 * re-run still holds, because no older version ever becomes current again.
 */
import type {VerificationDifference} from '../../results/migrate.js'
import {randomUUID} from 'node:crypto'

import type {S3Client} from '@aws-sdk/client-s3'

import type {AwsContext} from '../aws.js'
import {EngagementIndex, type EngagementRecord} from '../engagement-index.js'
import {AuditforgeError, ExitCode, describeAwsError, invalidInput} from '../errors.js'
import {type PurgePhase, engagementKeys, migrationKeys, parsePurgeRecordKey, validateEngagementId} from '../layout.js'
import {
  type VersionEntry,
  compareKeys,
  deleteObjectVersions,
  listEngagementVersions,
  listObjects,
  putObject,
  readText,
  readVersioning,
} from '../s3/index.js'
import {AuditLogStore} from '../stores.js'
import {
  type EvidenceLine,
  type EvidenceLocation,
  type EvidenceSummary,
  readEvidence,
  readSummaries,
} from './evidence.js'
import {Cursor} from './streams.js'
import {afterFlipPass} from './sync.js'
import {agree, plural} from '../wording.js'

/** The default `--min-age`: thirty days of soak before the shared copy may go. */
export const defaultMinAge = '30d'

const durationUnits: Record<string, number> = {d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000}

/**
 * Parses a duration such as `30d`, `12h`, `90m`, `45s` or `0` into milliseconds. Anything else
 * (a bare number other than 0, a fraction, a negative, another unit) is a usage error (exit 2).
 */
export function parseDuration(text: string, flag = '--min-age'): number {
  const match = /^(\d{1,9})([dhms])?$/.exec(text.trim())
  if (!match || (match[2] === undefined && Number(match[1]) !== 0)) {
    throw invalidInput(
      `Invalid ${flag} ${JSON.stringify(text)}: expected a whole number with a unit, e.g. 30d, 12h, 90m, 45s, or 0`,
    )
  }
  return Number(match[1]) * (match[2] ? durationUnits[match[2]] : 0)
}

/** One version the purge set out to remove, as recorded in its chunks. */
export interface PurgeVersionLine {
  key: string
  version_id: string | null
  etag: string | null
  size: number
  is_delete_marker: boolean
}

/** What the engagement's keys in the shared bucket amount to: every version and delete marker. */
export interface PurgeRemoval {
  /** Keys with any version (each has exactly one current version or delete marker). */
  keys: number
  /**
   * Non-current versions written after the switch (by S3's clock): a stale writer's data that
   * is no longer current, so no verification of current objects sees it, and that never
   * reached the engagement's bucket. Any of them stops the purge.
   */
  written_after_switch: number
  /** Object versions, current and non-current; delete markers are counted apart. */
  versions: number
  delete_markers: number
  bytes: number
  /** The first keys, in listing order (at most 20). */
  first_keys: string[]
}

/** A fresh verification against the evidence (the one `migrate --verify-only` makes). */
export interface PurgeVerification {
  result: 'passed' | 'failed' | 'not_run'
  checked_at: string | null
  /** Objects and bytes the evidence says were migrated. */
  objects: number
  bytes: number
  /** Migrated versions no longer in the engagement's bucket. */
  missing: number
  /** Keys written to the shared bucket after their copy: `migrate --reconcile` copies them. */
  late_writes: number
  /** The first differences (at most 20). */
  differences: VerificationDifference[]
}

/** Why the purge will not (or would not) go ahead. */
export interface PurgeRefusal {
  code:
    | 'not_migrated'
    | 'unversioned_source'
    | 'no_evidence'
    | 'evidence_mismatch'
    | 'too_young'
    | 'verification_failed'
    | 'written_after_switch'
    | 'record_changed'
  message: string
  exit: 4 | 5
  suggestion: string | null
}

/** The purge record, `purge.json`, written before anything is deleted and completed after. */
export interface PurgeRecord {
  engagement_id: string
  purge_id: string
  tool_version: string
  operator_arn: string
  shared_bucket: string
  bucket: string
  /**
   * `listed`: the intent is stored, nothing may have been deleted yet, or some (an interrupted
   * purge); `aborted`: refused after listing, before deleting anything; `incomplete`: deletion
   * failed part way; `completed`.
   */
  status: 'listed' | 'aborted' | 'incomplete' | 'completed'
  started_at: string
  completed_at: string | null
  min_age: string
  min_age_seconds: number
  /** The migration run whose flip the age is measured from, and that flip. */
  evidence_run: string
  flipped_at: string
  /** The verification that allowed the purge, made after the versions were listed. */
  verification: PurgeVerification
  /** What was listed to be removed, and how many chunks of each phase hold it. */
  intent: PurgeRemoval & {chunks: Record<PurgePhase, number>}
  /** What was removed (by version id); bytes are null when some deletions failed. */
  removed: {versions: number; delete_markers: number; bytes: number | null} | null
  /** Versions of the engagement's keys still in the shared bucket after the deletion. */
  left: {versions: number; first_keys: string[]} | null
  /** Earlier purges, interrupted, that this one finishes. */
  resumes: string[]
  /** The `migration.source_purged` event in the engagement's audit log; null when not written. */
  audit_event_id: string | null
  error: string | null
}

/** Where an engagement's purge stands before `--execute`: every check, and what would be removed. */
export interface PurgeInspection {
  engagement_id: string
  shared_bucket: string
  /** The engagement's own bucket (the record's source_bucket); null when it has none. */
  bucket: string | null
  evidence_run: string | null
  flipped_at: string | null
  age_seconds: number | null
  min_age: string
  min_age_seconds: number
  min_age_met: boolean | null
  verification: PurgeVerification
  /** What would be removed; null when not listed (a refusal came first). */
  removal: PurgeRemoval | null
  /** Purges that started and did not complete: the next `--execute` finishes them. */
  unfinished_purges: string[]
  /** The latest purge that completed. */
  last_purge: {purge_id: string; completed_at: string | null} | null
  /** `would_purge`: `--execute` goes ahead; `nothing_to_purge`: nothing is left to remove. */
  status: 'would_purge' | 'nothing_to_purge' | 'refused'
  refusal: PurgeRefusal | null
}

export interface PurgeOutcome {
  purge_id: string
  /** Where the purge record lives: the engagement's bucket and the key of `purge.json`. */
  evidence_bucket: string
  evidence_key: string
  removed: {versions: number; delete_markers: number; bytes: number | null}
  left: {versions: number; first_keys: string[]}
  resumes: string[]
  audit_event_id: string | null
  /** Set when the audit-log event could not be written (the purge itself stands). */
  audit_event_error: string | null
}

/**
 * The `--json` document of `purge-source`: the inspection, the mode, and what `--execute` did. A
 * refusal is not in it: the command reports it as the document's `error` (and `status`), so
 * `refused` here only ever stands for "the error says why".
 */
export interface PurgeReport extends Omit<PurgeInspection, 'status' | 'refusal'> {
  mode: 'dry_run' | 'execute'
  status: PurgeInspection['status'] | 'purged'
  purge: PurgeOutcome | null
}

export function purgeReport(
  inspection: PurgeInspection,
  mode: PurgeReport['mode'],
  outcome: PurgeOutcome | null = null,
): PurgeReport {
  const {refusal: _refusal, ...checks} = inspection
  return {...checks, mode, status: outcome ? 'purged' : inspection.status, purge: outcome}
}

/**
 * `--execute` stopped after its listing (the verification after it failed, a version was written
 * after the switch, or the record changed): nothing was deleted and the purge record says
 * `aborted`. Carries the verification that stopped it, so the command's document shows it.
 */
export class PurgeStopped extends AuditforgeError {
  constructor(
    readonly refusal: PurgeRefusal,
    readonly verification: PurgeVerification,
  ) {
    super(refusal.message, {code: refusal.code, exit: refusal.exit, suggestion: refusal.suggestion ?? undefined})
  }
}

export interface PurgeProgress {
  phase: 'list' | 'verify' | 'delete' | 'record'
  /** Versions listed or deleted so far in this phase. */
  done: number
  total: number
}

export interface PurgeOptions {
  /** `--min-age` as given (kept in the record) and in milliseconds. */
  minAge: string
  minAgeMs: number
  /**
   * Stop at the first refusal (`--execute`: an age refusal needs no verification); a dry run
   * makes every check so that it can say all that stands in the way.
   */
  stopAtFirstRefusal?: boolean
  now?: () => Date
  onProgress?: (progress: PurgeProgress) => void
}

const listed = 20
const evidenceChunkLines = 2000

const notRun = (): PurgeVerification => ({
  result: 'not_run',
  checked_at: null,
  objects: 0,
  bytes: 0,
  missing: 0,
  late_writes: 0,
  differences: [],
})

/**
 * Every check `purge-source` makes before deleting, and what it would remove, changing nothing:
 * the record points at the engagement's own bucket (exit 3 when the engagement is unknown); a
 * migration run of this shared bucket into that bucket switched the record (its `flipped_at`,
 * the newest, is where the age is measured from); the age is at least `minAge`; a fresh
 * verification against the evidence passes. Then lists (counting, never holding) every version
 * of exactly the engagement's keys in the shared bucket. When nothing is left there and no
 * purge is unfinished, the status is `nothing_to_purge`, whatever the age.
 */
export async function inspectPurge(
  context: AwsContext,
  sharedBucket: string,
  engagementId: string,
  options: PurgeOptions,
): Promise<PurgeInspection> {
  const id = validateEngagementId(engagementId)
  const now = options.now ?? (() => new Date())
  const record = await new EngagementIndex(context.s3, sharedBucket).get(id)
  const inspection: PurgeInspection = {
    engagement_id: id,
    shared_bucket: sharedBucket,
    bucket: record.source_bucket || null,
    evidence_run: null,
    flipped_at: null,
    age_seconds: null,
    min_age: options.minAge,
    min_age_seconds: Math.floor(options.minAgeMs / 1000),
    min_age_met: null,
    verification: notRun(),
    removal: null,
    unfinished_purges: [],
    last_purge: null,
    status: 'refused',
    refusal: null,
  }
  const refuse = (refusal: PurgeRefusal): PurgeInspection => ({...inspection, status: 'refused', refusal})

  const bucket = record.source_bucket
  if (!bucket || bucket === sharedBucket) {
    return refuse({
      code: 'not_migrated',
      message: `${id} is not migrated: its record points at the shared bucket ${sharedBucket}, which holds its only copy`,
      exit: ExitCode.refused,
      suggestion: `Migrate it first: auditforge migrate --engagement-id ${id} --execute`,
    })
  }
  // Deleting by version id removes exactly what was verified only where an overwrite makes a
  // new version; without versioning it would replace the "null" version this purge deletes.
  const versioning = await readVersioning(context.s3, sharedBucket)
  if (versioning !== 'Enabled') {
    return refuse({
      code: 'unversioned_source',
      message: `The shared bucket ${sharedBucket} has versioning ${versioning === 'Off' ? 'off' : 'suspended'}: a write during the purge could be deleted unverified`,
      exit: ExitCode.refused,
      suggestion: `Enable versioning on ${sharedBucket} (auditforge doctor says so too), then run purge-source again.`,
    })
  }
  const location: EvidenceLocation = {bucket, expectedOwner: await context.accountId(), engagementId: id}
  const summaries = await readSummaries(context.s3, location)
  const flip = latestFlip(summaries)
  if (!flip) {
    // A run stopped between the switch and its last summary, or a migration from before
    // evidence existed: neither says when the record switched.
    const interrupted = summaries.some(
      (summary) => summary.verification?.result === 'passed' && summary.target_bucket === bucket,
    )
    return refuse({
      code: 'no_evidence',
      message: `${id} has no migration evidence in ${bucket} of a run that switched its record; without it nothing proves the copy or its age`,
      exit: ExitCode.refused,
      suggestion: interrupted
        ? `Its last run stopped after verifying; finish it (late writes, then the switch time is recorded): auditforge migrate --reconcile --engagement-id ${id} --yes`
        : `Migrated before evidence existed: roll back and migrate again to record evidence (auditforge migrate rollback --engagement-id ${id}, then migrate --engagement-id ${id} --execute); what is already in its bucket is proven, not copied again.`,
    })
  }
  inspection.evidence_run = flip.run_id
  inspection.flipped_at = flip.flipped_at
  if (flip.source_bucket !== sharedBucket || flip.target_bucket !== bucket) {
    return refuse({
      code: 'evidence_mismatch',
      message: `The evidence of ${id} (run ${flip.run_id}) is of a migration from ${flip.source_bucket} to ${flip.target_bucket}, not from ${sharedBucket} to ${bucket}`,
      exit: ExitCode.refused,
      suggestion: 'Check --shared-bucket: purge-source only removes what a migration out of that bucket copied.',
    })
  }

  const purges = await readPurgeRecords(context.s3, location)
  // An interrupted purge is unfinished until a later purge that resumed it completed.
  const finished = new Set(
    purges.filter((purge) => purge.status === 'completed').flatMap((purge) => [purge.purge_id, ...purge.resumes]),
  )
  inspection.unfinished_purges = purges
    .filter((purge) => (purge.status === 'listed' || purge.status === 'incomplete') && !finished.has(purge.purge_id))
    .map((purge) => purge.purge_id)
  const completed = purges.filter((purge) => purge.status === 'completed').at(-1)
  inspection.last_purge = completed ? {purge_id: completed.purge_id, completed_at: completed.completed_at} : null

  options.onProgress?.({phase: 'list', done: 0, total: 0})
  inspection.removal = await countVersions(
    classifiedVersions(context.s3, sharedBucket, location, flip.flipped_at),
    (done) => options.onProgress?.({phase: 'list', done, total: 0}),
  )
  if (
    inspection.removal.versions + inspection.removal.delete_markers === 0 &&
    inspection.unfinished_purges.length === 0
  ) {
    return {...inspection, status: 'nothing_to_purge'}
  }

  const ageMs = now().getTime() - Date.parse(flip.flipped_at)
  inspection.age_seconds = Math.floor(ageMs / 1000)
  inspection.min_age_met = ageMs >= options.minAgeMs
  const tooYoung: PurgeRefusal | null = inspection.min_age_met
    ? null
    : {
        code: 'too_young',
        message: `${id} switched to ${bucket} at ${flip.flipped_at}, ${describeAge(ageMs)} ago; --min-age is ${options.minAge}`,
        exit: ExitCode.refused,
        suggestion: 'Let the engagement soak in its own bucket, or pass a shorter --min-age.',
      }
  if (tooYoung && options.stopAtFirstRefusal) return refuse(tooYoung)
  if (inspection.removal.written_after_switch > 0)
    return refuse(writtenAfterSwitch(id, sharedBucket, inspection.removal.written_after_switch))

  options.onProgress?.({phase: 'verify', done: 0, total: 0})
  inspection.verification = await verifyAgainstEvidence(context, sharedBucket, location, now)
  if (tooYoung) return refuse(tooYoung)
  if (inspection.verification.result !== 'passed') return refuse(verificationRefusal(id, inspection.verification))
  return {...inspection, status: 'would_purge'}
}

/**
 * Purges the shared bucket of the engagement an inspection allowed (`status: would_purge`;
 * anything else is refused with the inspection's own reason). Lists every version of exactly
 * its keys into the purge's intent chunks and writes the purge record; verifies against the
 * evidence again (so every version listed was there while the verification held; a failure
 * marks the record `aborted`, deletes nothing and exits 4); checks the record still points at
 * the engagement's bucket; deletes by version id, history first, then current versions and
 * delete markers; lists again to report what is left (versions written after the listing are
 * never deleted); appends `migration.source_purged` to the engagement's audit log; completes
 * the purge record. Nothing is held in memory but a chunk of versions.
 */
export async function purgeSource(
  context: AwsContext,
  inspection: PurgeInspection,
  options: PurgeOptions & {toolVersion?: string},
): Promise<PurgeOutcome> {
  if (inspection.status !== 'would_purge') throw refusalError(inspection)
  const {s3} = context
  const now = options.now ?? (() => new Date())
  const id = inspection.engagement_id
  const sharedBucket = inspection.shared_bucket
  const bucket = inspection.bucket!
  const location: EvidenceLocation = {bucket, expectedOwner: await context.accountId(), engagementId: id}
  // The purge record names its operator: looked up before the first chunk is written.
  const operator = await context.callerArn()
  const startedAt = now()
  const purgeId = migrationKeys.newRunId(startedAt)
  const progress = (phase: PurgeProgress['phase'], done: number, total = 0) =>
    options.onProgress?.({phase, done, total})

  // The intent: every version, into one chunk series per phase.
  const writers = {
    noncurrent: new PurgeChunkWriter(s3, location, purgeId, 'noncurrent'),
    current: new PurgeChunkWriter(s3, location, purgeId, 'current'),
  }
  const intent = await countVersions(
    classifiedVersions(s3, sharedBucket, location, inspection.flipped_at!),
    (done) => progress('list', done),
    async (version) => {
      // A server that does not say which version is current: treated as current, deleted last.
      await writers[version.isLatest === false ? 'noncurrent' : 'current'].append(versionLine(version))
    },
  )
  const chunks = {noncurrent: await writers.noncurrent.finish(), current: await writers.current.finish()}
  const record: PurgeRecord = {
    engagement_id: id,
    purge_id: purgeId,
    tool_version: options.toolVersion ?? 'unknown',
    operator_arn: operator,
    shared_bucket: sharedBucket,
    bucket,
    status: 'listed',
    started_at: iso(startedAt),
    completed_at: null,
    min_age: options.minAge,
    min_age_seconds: Math.floor(options.minAgeMs / 1000),
    evidence_run: inspection.evidence_run!,
    flipped_at: inspection.flipped_at!,
    verification: notRun(),
    intent: {...intent, chunks},
    removed: null,
    left: null,
    resumes: inspection.unfinished_purges,
    audit_event_id: null,
    error: null,
  }
  await writePurgeRecord(s3, location, record)

  // Verified after the listing: what was listed was there while the evidence still held.
  progress('verify', 0)
  record.verification = await verifyAgainstEvidence(context, sharedBucket, location, now)
  const current = await new EngagementIndex(s3, sharedBucket).get(id)
  const stopped: PurgeRefusal | undefined =
    record.verification.result !== 'passed'
      ? verificationRefusal(id, record.verification)
      : intent.written_after_switch > 0
        ? writtenAfterSwitch(id, sharedBucket, intent.written_after_switch)
        : current.source_bucket === bucket
          ? undefined
          : {
              code: 'record_changed',
              message: `The record of ${id} no longer points at ${bucket} (now ${JSON.stringify(current.source_bucket)}); nothing was deleted`,
              exit: ExitCode.refused,
              suggestion: null,
            }
  if (stopped) {
    await writePurgeRecord(s3, location, {
      ...record,
      status: 'aborted',
      completed_at: iso(now()),
      error: stopped.message,
    })
    throw new PurgeStopped(stopped, record.verification)
  }

  let deleted = 0
  try {
    for (const phase of ['noncurrent', 'current'] as const) {
      const base = deleted
      const result = await deleteObjectVersions(s3, readPurgeChunks(s3, location, purgeId, phase, chunks[phase]), {
        bucket: sharedBucket,
        onProgress: ({deleted: inPhase}) => progress('delete', base + inPhase, intent.versions + intent.delete_markers),
      })
      deleted = base + result.deleted
    }
  } catch (error) {
    const failure = describeAwsError(error, {action: 'Purging the shared bucket', bucket: sharedBucket})
    await writePurgeRecord(s3, location, {...record, status: 'incomplete', error: failure.message})
    throw new AuditforgeError(`${failure.message}; the purge is recorded as incomplete`, {
      code: failure.code,
      exit: failure.exit,
      suggestion: `Run \`auditforge migrate purge-source --engagement-id ${id} --execute\` again: it lists what is left and finishes.`,
      cause: error,
    })
  }
  record.removed = {
    versions: intent.versions,
    delete_markers: intent.delete_markers,
    bytes: deleted === intent.versions + intent.delete_markers ? intent.bytes : null,
  }

  progress('record', 0)
  const left = await countVersions(listEngagementVersions(s3, sharedBucket, id))
  record.left = {versions: left.versions + left.delete_markers, first_keys: left.first_keys}

  const eventId = randomUUID()
  let eventError: string | null = null
  try {
    await new AuditLogStore(context, sharedBucket).append(
      {
        event: 'migration.source_purged',
        timestamp: iso(now()),
        engagement_id: id,
        actor: record.operator_arn,
        event_id: eventId,
        shared_bucket: sharedBucket,
        purge_id: purgeId,
        evidence_bucket: bucket,
        evidence_key: migrationKeys.purgeRecord(id, purgeId),
        keys: intent.keys,
        versions: intent.versions,
        delete_markers: intent.delete_markers,
        bytes: intent.bytes,
        left_versions: record.left.versions,
        resumes: record.resumes,
      },
      bucket,
    )
    record.audit_event_id = eventId
  } catch (error) {
    eventError = describeAwsError(error, {action: 'Appending to the audit log', bucket}).message
  }

  await writePurgeRecord(s3, location, {...record, status: 'completed', completed_at: iso(now()), error: eventError})
  return {
    purge_id: purgeId,
    evidence_bucket: bucket,
    evidence_key: migrationKeys.purgeRecord(id, purgeId),
    removed: record.removed,
    left: record.left,
    resumes: record.resumes,
    audit_event_id: record.audit_event_id,
    audit_event_error: eventError,
  }
}

/** The error a refused inspection stands for: its message, exit code and suggestion. */
export function refusalError(
  inspection: Pick<PurgeInspection, 'refusal' | 'status' | 'engagement_id'>,
): AuditforgeError {
  const refusal = inspection.refusal
  if (!refusal) {
    return new AuditforgeError(`Nothing of ${inspection.engagement_id} is left in the shared bucket to purge`, {
      code: 'nothing_to_purge',
      exit: ExitCode.refused,
    })
  }
  return new AuditforgeError(refusal.message, {
    code: refusal.code,
    exit: refusal.exit,
    suggestion: refusal.suggestion ?? undefined,
  })
}

/** Every purge record of the engagement in its bucket, oldest first. */
export async function readPurgeRecords(s3: S3Client, location: EvidenceLocation): Promise<PurgeRecord[]> {
  const ids: string[] = []
  const listing = listObjects(s3, {
    bucket: location.bucket,
    prefix: migrationKeys.purges(location.engagementId),
    expectedOwner: location.expectedOwner,
  })
  for await (const object of listing) {
    const purgeId = parsePurgeRecordKey(location.engagementId, object.Key)
    if (purgeId !== undefined) ids.push(purgeId)
  }
  const records: PurgeRecord[] = []
  for (const purgeId of ids.sort()) {
    const key = migrationKeys.purgeRecord(location.engagementId, purgeId)
    const stored = await readText(
      s3,
      {bucket: location.bucket, key, expectedOwner: location.expectedOwner},
      'Reading the purge record',
    )
    if (stored) records.push(JSON.parse(stored.text) as PurgeRecord)
  }
  return records
}

/**
 * Whether the shared bucket's copy of the engagement is (even partly) gone: the latest purge
 * that got past its listing (anything but `aborted`, which deleted nothing). Undefined when
 * none did, or the engagement has no bucket of its own.
 */
export async function sourcePurge(
  context: AwsContext,
  record: Pick<EngagementRecord, 'engagement_id' | 'source_bucket'>,
): Promise<PurgeRecord | undefined> {
  if (!record.source_bucket) return undefined
  const location = {
    bucket: record.source_bucket,
    expectedOwner: await context.accountId(),
    engagementId: record.engagement_id,
  }
  return (await readPurgeRecords(context.s3, location)).filter((purge) => purge.status !== 'aborted').at(-1)
}

/** The newest migration run that switched the record. */
function latestFlip(summaries: EvidenceSummary[]): (EvidenceSummary & {flipped_at: string}) | undefined {
  return summaries
    .filter(
      (summary): summary is EvidenceSummary & {flipped_at: string} =>
        typeof summary.flipped_at === 'string' && summary.flipped_at !== '',
    )
    .at(-1)
}

async function verifyAgainstEvidence(
  context: AwsContext,
  sharedBucket: string,
  location: EvidenceLocation,
  now: () => Date,
): Promise<PurgeVerification> {
  const totals = await afterFlipPass({
    s3: context.s3,
    sourceBucket: sharedBucket,
    targetBucket: location.bucket,
    engagementId: location.engagementId,
    owner: location.expectedOwner,
    evidence: readEvidence(context.s3, location),
  })
  const differences = [
    ...totals.missing.map((difference) => ({...difference, kind: 'migrated_version_missing' as const})),
    ...totals.lateWrites.map((difference) => ({...difference, kind: 'late_write' as const})),
  ].slice(0, listed)
  return {
    result: totals.missingCount + totals.lateWriteCount === 0 ? 'passed' : 'failed',
    checked_at: iso(now()),
    objects: totals.objects,
    bytes: totals.bytes,
    missing: totals.missingCount,
    late_writes: totals.lateWriteCount,
    differences,
  }
}

function verificationRefusal(id: string, verification: PurgeVerification): PurgeRefusal {
  const reasons = [
    ...(verification.missing > 0
      ? [`${plural(verification.missing, 'migrated version')} missing from the engagement's bucket`]
      : []),
    ...(verification.late_writes > 0 ? [`${plural(verification.late_writes, 'late write')} in the shared bucket`] : []),
  ]
  return {
    code: 'verification_failed',
    message: `${id} does not verify against its migration evidence now: ${reasons.join(', ')}; nothing was deleted`,
    exit: ExitCode.verificationFailed,
    suggestion:
      verification.late_writes > 0
        ? `Copy the late writes first: auditforge migrate --reconcile --engagement-id ${id} (then run purge-source again).`
        : `See the differences with: auditforge migrate --verify-only --engagement-id ${id}`,
  }
}

function writtenAfterSwitch(id: string, sharedBucket: string, count: number): PurgeRefusal {
  return {
    code: 'written_after_switch',
    message: `${plural(count, 'version')} of ${id}'s keys ${agree(count, 'was', 'were')} written to the shared bucket after the switch and ${agree(count, 'is', 'are')} no longer current: they never reached the engagement's bucket; nothing was deleted`,
    exit: ExitCode.verificationFailed,
    suggestion: `Find them (newer than the switch) with: aws s3api list-object-versions --bucket ${sharedBucket} --prefix ${engagementKeys.prefix(id)} (and its other prefixes) — and copy what the engagement needs into its bucket before purging.`,
  }
}

/**
 * The engagement's versions in the shared bucket, each marked `afterSwitch` when it is an object
 * version that is no longer current and was written after its key's migrated version: data a
 * stale writer put there after the copy, that no verification of current objects sees and that
 * never reached the engagement's bucket. Within a key S3 lists versions newest first, so those
 * are the non-current versions listed before the version the evidence says was copied. A key
 * whose evidence has no source version (copied from an unversioned source) or no line (deleted
 * before the migration) falls back on the version's LastModified against the switch (whole
 * seconds in listings: a version of the switch's own second counts as after it). Streams: the
 * listing and the evidence are merged by key.
 */
async function* classifiedVersions(
  s3: S3Client,
  sharedBucket: string,
  location: EvidenceLocation,
  flippedAt: string,
): AsyncGenerator<VersionEntry & {afterSwitch: boolean}> {
  const switchSecond = Math.floor(Date.parse(flippedAt) / 1000) * 1000
  const evidence = new Cursor(readEvidence(s3, location))
  let key: string | undefined
  let line: EvidenceLine | undefined
  let reachedCopied = false
  try {
    for await (const version of listEngagementVersions(s3, sharedBucket, location.engagementId)) {
      if (version.Key !== key) {
        key = version.Key
        const next = await evidence.skipWhile((candidate) => compareKeys(candidate.key, version.Key) < 0)
        line = next?.key === key && next.action !== 'removed' ? next : undefined
        reachedCopied = false
      }
      const copiedVersion = line?.source_version_id ?? null
      if (copiedVersion !== null && version.VersionId === copiedVersion) reachedCopied = true
      const stale = !version.isDeleteMarker && version.isLatest === false
      const afterSwitch =
        stale &&
        (copiedVersion !== null
          ? !reachedCopied
          : version.lastModified !== undefined && version.lastModified.getTime() >= switchSecond)
      yield {...version, afterSwitch}
    }
  } finally {
    await evidence.close()
  }
}

/** Counts versions as the listing streams by, keeping only the first few keys; `each` sees every one. */
async function countVersions(
  versions: AsyncIterable<VersionEntry & {afterSwitch?: boolean}>,
  onCount?: (done: number) => void,
  each?: (version: VersionEntry) => Promise<void>,
): Promise<PurgeRemoval> {
  const removal: PurgeRemoval = {
    keys: 0,
    versions: 0,
    delete_markers: 0,
    bytes: 0,
    written_after_switch: 0,
    first_keys: [],
  }
  for await (const version of versions) {
    if (version.afterSwitch) removal.written_after_switch++
    if (version.isDeleteMarker) removal.delete_markers++
    else removal.versions++
    removal.bytes += version.size
    // Each key has exactly one current entry (a version or a delete marker): keys counted without a set.
    if (version.isLatest !== false) {
      removal.keys++
      if (removal.first_keys.length < listed) removal.first_keys.push(version.Key)
    }
    await each?.(version)
    const done = removal.versions + removal.delete_markers
    if (done % 1000 === 0) onCount?.(done)
  }
  return removal
}

function versionLine(version: VersionEntry): PurgeVersionLine {
  return {
    key: version.Key,
    version_id: version.VersionId ?? null,
    etag: version.etag ?? null,
    size: version.size,
    is_delete_marker: version.isDeleteMarker,
  }
}

/** Writes one phase of a purge's intent, a chunk at a time; each chunk is written once. */
class PurgeChunkWriter {
  private lines: string[] = []
  private chunk = 0

  constructor(
    private readonly s3: S3Client,
    private readonly location: EvidenceLocation,
    private readonly purgeId: string,
    private readonly phase: PurgePhase,
  ) {}

  async append(line: PurgeVersionLine): Promise<void> {
    this.lines.push(JSON.stringify(line))
    if (this.lines.length >= evidenceChunkLines) await this.flush()
  }

  /** Writes what is left; returns the number of chunks. */
  async finish(): Promise<number> {
    await this.flush()
    return this.chunk
  }

  private async flush(): Promise<void> {
    if (this.lines.length === 0) return
    const key = migrationKeys.purgeChunk(this.location.engagementId, this.purgeId, this.phase, ++this.chunk)
    const body = `${this.lines.join('\n')}\n`
    this.lines = []
    await putObject(this.s3, {bucket: this.location.bucket, key, expectedOwner: this.location.expectedOwner}, body, {
      contentType: 'application/x-ndjson',
      action: 'Writing the purge record',
      ifAbsent: true,
    })
  }
}

/** The versions of one phase of a purge's intent, read back a chunk at a time. */
async function* readPurgeChunks(
  s3: S3Client,
  location: EvidenceLocation,
  purgeId: string,
  phase: PurgePhase,
  chunks: number,
): AsyncGenerator<Pick<VersionEntry, 'Key' | 'VersionId'>> {
  for (let chunk = 1; chunk <= chunks; chunk++) {
    const key = migrationKeys.purgeChunk(location.engagementId, purgeId, phase, chunk)
    const stored = await readText(
      s3,
      {bucket: location.bucket, key, expectedOwner: location.expectedOwner},
      'Reading the purge record',
    )
    if (stored === undefined)
      throw new AuditforgeError(
        `The purge record chunk s3://${location.bucket}/${key} is missing; nothing more was deleted`,
        {code: 'invalid_evidence', exit: ExitCode.failed},
      )
    for (const text of stored.text.split('\n')) {
      if (text.trim() === '') continue
      const line = JSON.parse(text) as PurgeVersionLine
      // Only by explicit version id: a version written after the listing is never touched.
      if (line.version_id === null) continue
      yield {Key: line.key, VersionId: line.version_id}
    }
  }
}

/** Writes (or rewrites: the bucket is versioned, so every state stays provable) the purge record. */
async function writePurgeRecord(s3: S3Client, location: EvidenceLocation, record: PurgeRecord): Promise<void> {
  const key = migrationKeys.purgeRecord(location.engagementId, record.purge_id)
  await putObject(
    s3,
    {bucket: location.bucket, key, expectedOwner: location.expectedOwner},
    `${JSON.stringify(record, null, 2)}\n`,
    {
      contentType: 'application/json',
      action: 'Writing the purge record',
    },
  )
}

function describeAge(ms: number): string {
  if (ms < 0) return 'in the future (check the clock)'
  const hours = Math.floor(ms / 3_600_000)
  if (hours >= 48) return `${Math.floor(hours / 24)}d`
  if (hours >= 1) return `${hours}h`
  return ms >= 60_000 ? `${Math.floor(ms / 60_000)}m` : `${Math.floor(ms / 1000)}s`
}

function iso(date: Date): string {
  return date.toISOString()
}
