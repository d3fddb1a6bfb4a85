/**
 * One pass over an engagement: the source's current versions, the target's current versions
 * and the evidence so far, merge-joined by key in S3's order, in constant memory. In `copy`
 * mode it brings the target to the source (copies what is not proven there, removes what left
 * the source) and writes an evidence line for each; in `check` mode it only says what differs,
 * which is the verification before the flip: it passes when every source key's current
 * identity is the one the evidence says was copied, and the target still holds exactly the
 * version that copy wrote, and the target has no other key.
 *
 * Nothing is accepted on size alone. A key is proven by its evidence (source identity then and
 * now equal, target version unchanged), or, without evidence, by single-part MD5 ETags equal on
 * both sides of objects that are not SSE-KMS encrypted.
 */
import type {S3Client} from '@aws-sdk/client-s3'

import {AuditforgeError} from '../errors.js'
import {type CurrentVersion, compareKeys, deleteCurrentObject, headObject, listCurrentVersions} from '../s3/index.js'
import type {BulkSink, CopiedObject, CopyEngine, SourceObject} from './engine.js'
import type {EvidenceLine} from './evidence.js'
import {Cursor, emptyStream, orderedMap} from './streams.js'

export type DifferenceKind =
  'missing' | 'changed_in_source' | 'size_differs' | 'not_the_copied_version' | 'not_in_source' | 'archived'

/**
 * One way the target does not (yet) hold what the source does: `source` and `target` say what
 * each side holds (an ETag, a version id, a size in bytes), null for a side that has nothing.
 */
export interface Difference {
  key: string
  kind: DifferenceKind
  source: string | null
  target: string | null
  detail: string
}

export interface SyncSides {
  s3: S3Client
  sourceBucket: string
  targetBucket: string
  engagementId: string
  owner: string
  /** The evidence so far, merged and sorted by key. */
  evidence: AsyncIterable<EvidenceLine>
  /**
   * The target bucket was created moments ago by this run, so it holds nothing: its listing is
   * skipped (a copy into it is still conditional on the key being absent).
   */
  targetKnownEmpty?: boolean
  /** Throws when the run may no longer write to the target (its lease is lost); called before every removal. */
  mayWrite?: () => void
}

export interface CopyPassOptions {
  engine: CopyEngine
  /** Receives every evidence line, in key order. */
  record: (line: EvidenceLine) => Promise<void>
  /** Whether keys proven by their evidence get their line again (the first pass of a run: a complete record). */
  recordProven: boolean
  /** A concurrency limiter shared with the other engagements of the run. */
  limit: <V>(task: () => Promise<V>) => Promise<V>
  /** Copies started ahead of the oldest one not yet recorded. */
  window?: number
  onObject?: (event: {key: string; size: number; action: EvidenceLine['action'] | 'archived'}) => void
  /**
   * Copies in bulk (S3 Batch Operations): every object not proven is offered to the sink, in key
   * order; one it takes is not copied here and gets no evidence line in this pass (the bulk
   * engine writes those once its copies are done).
   */
  bulk?: BulkSink
}

export interface PassTotals {
  /** Keys and bytes in the source now. */
  objects: number
  bytes: number
  copied: number
  proven: number
  removed: number
  /** Every difference found (check mode), or left (copy mode: archived sources); at most `maxListed` listed. */
  differences: Difference[]
  differenceCount: number
}

const maxListed = 1000

/** A merged row of the three sides for one key. */
export interface Row {
  key: string
  source?: CurrentVersion
  target?: CurrentVersion
  evidence?: EvidenceLine
}

/**
 * The three sides merge-joined by key, in S3's order, one row per key on any side;
 * `listTarget: false` leaves the target out (each row's `target` undefined).
 */
export async function* joined(sides: SyncSides, {listTarget = true} = {}): AsyncGenerator<Row> {
  const source = new Cursor(listCurrentVersions(sides.s3, sides.sourceBucket, sides.engagementId))
  const target = new Cursor(
    listTarget && !sides.targetKnownEmpty
      ? listCurrentVersions(sides.s3, sides.targetBucket, sides.engagementId, sides.owner)
      : emptyStream<CurrentVersion>(),
  )
  const evidence = new Cursor(sides.evidence)
  try {
    for (;;) {
      const [s, t] = [await source.peek(), await target.peek()]
      const key = s && t ? (compareKeys(s.key, t.key) <= 0 ? s.key : t.key) : (s ?? t)?.key
      if (key === undefined) return
      // Evidence of keys on neither side is history; skip past it.
      const e = await evidence.skipWhile((line) => compareKeys(line.key, key) < 0)
      yield {
        key,
        source: s?.key === key ? await source.take() : undefined,
        target: t?.key === key ? await target.take() : undefined,
        evidence: e?.key === key ? await evidence.take() : undefined,
      }
    }
  } finally {
    await Promise.all([source.close(), target.close(), evidence.close()])
  }
}

const nullVersion = (versionId: string | null | undefined) =>
  versionId === undefined || versionId === 'null' ? null : versionId

/** Whether the evidence line was made from exactly this source version. */
function sameSource(line: EvidenceLine, source: CurrentVersion): boolean {
  if (line.source_etag !== source.etag || line.size !== source.size) return false
  const [then, now] = [nullVersion(line.source_version_id), nullVersion(source.versionId)]
  return then === null || now === null || then === now
}

/** Whether the target still holds the version the evidence says the copy wrote, of the size copied. */
function sameTarget(line: EvidenceLine, target: CurrentVersion | undefined): boolean {
  if (!target || line.action === 'removed' || target.size !== line.size) return false
  const [then, now] = [nullVersion(line.target_version_id), nullVersion(target.versionId)]
  if (then !== null && now !== null)
    return then === now && (line.target_etag === null || line.target_etag === target.etag)
  return line.target_etag !== null && line.target_etag === target.etag
}

/** Whether an ETag is a single-part MD5 (a multipart ETag ends in `-<parts>`). */
export const isMd5 = (etag: string) => /^"[0-9a-f]{32}"$/.test(etag)

/** What md5Proves needs of a HeadObject answer. */
type HeadFacts = {ETag?: string; ServerSideEncryption?: string} | undefined

/**
 * The MD5 rule, given both listings and a HeadObject of each side: equal single-part MD5 ETags
 * and sizes, neither side SSE-KMS (whose ETags are not MD5s). A side that is gone (undefined)
 * proves nothing; no encryption and SSE-S3 keep MD5 ETags.
 */
export function md5Proves(
  source: CurrentVersion,
  target: CurrentVersion,
  sourceHead: HeadFacts,
  targetHead: HeadFacts,
): boolean {
  if (!isMd5(source.etag) || source.etag !== target.etag || source.size !== target.size) return false
  const kms = (head: HeadFacts) => head === undefined || (head.ServerSideEncryption?.startsWith('aws:kms') ?? false)
  return !kms(sourceHead) && !kms(targetHead) && sourceHead!.ETag === source.etag && targetHead!.ETag === target.etag
}

/** The versions an MD5 proof was made on, for the evidence line that records it. */
interface Md5Proof {
  sourceVersionId: string | null
  targetVersionId: string | null
}

/**
 * Without evidence: equal single-part MD5 ETags and sizes on both sides, neither SSE-KMS (whose
 * ETags are not MD5s) — which takes a HeadObject of each side, for these keys only. The proof
 * names the versions it was made on, so the evidence can later find that target version.
 */
async function provenByMd5(
  sides: SyncSides,
  source: CurrentVersion,
  target: CurrentVersion,
): Promise<Md5Proof | undefined> {
  if (!isMd5(source.etag) || source.etag !== target.etag || source.size !== target.size) return undefined
  const [s, t] = await Promise.all([
    headObject(sides.s3, {bucket: sides.sourceBucket, key: source.key, versionId: source.versionId}),
    headObject(sides.s3, {bucket: sides.targetBucket, key: target.key, expectedOwner: sides.owner}),
  ])
  if (!md5Proves(source, target, s, t)) return undefined
  return {sourceVersionId: nullVersion(s?.VersionId), targetVersionId: nullVersion(t?.VersionId)}
}

function line(
  key: string,
  size: number,
  action: EvidenceLine['action'],
  copied: Pick<CopiedObject, 'source' | 'target'>,
): EvidenceLine {
  return {
    key,
    size,
    source_etag: copied.source.etag || null,
    source_version_id: nullVersion(copied.source.versionId),
    target_etag: copied.target.etag,
    target_version_id: copied.target.versionId,
    checksum_algorithm: copied.target.checksum?.algorithm ?? null,
    checksum_type: copied.target.checksum?.type ?? null,
    checksum_value: copied.target.checksum?.value ?? null,
    action,
  }
}

function asSource(version: CurrentVersion): SourceObject {
  return {
    key: version.key,
    size: version.size,
    etag: version.etag,
    versionId: version.versionId,
    storageClass: version.storageClass,
  }
}

function newTotals(): PassTotals {
  return {objects: 0, bytes: 0, copied: 0, proven: 0, removed: 0, differences: [], differenceCount: 0}
}

function addDifference(totals: PassTotals, difference: Difference): void {
  totals.differenceCount++
  if (totals.differences.length < maxListed) totals.differences.push(difference)
}

/** Verification: what differs between the source, the target and the evidence. Changes nothing. */
export async function checkPass(sides: SyncSides): Promise<PassTotals> {
  const totals = newTotals()
  for await (const row of joined(sides)) {
    const {key, source, target, evidence} = row
    if (!source) {
      if (target)
        addDifference(totals, {
          key,
          kind: 'not_in_source',
          source: null,
          target: target.etag,
          detail: 'in the target, not in the source',
        })
      continue
    }
    totals.objects++
    totals.bytes += source.size
    if (evidence && evidence.action !== 'removed' && sameSource(evidence, source) && sameTarget(evidence, target))
      continue
    if (!evidence && target && (await provenByMd5(sides, source, target)) !== undefined) continue
    if (evidence && evidence.action !== 'removed' && !sameSource(evidence, source)) {
      addDifference(totals, {
        key,
        kind: 'changed_in_source',
        source: source.etag,
        target: target?.etag ?? null,
        detail: `the source changed after it was copied (now ${source.etag}, copied ${evidence.source_etag})`,
      })
    } else if (!target) {
      addDifference(totals, {key, kind: 'missing', source: source.etag, target: null, detail: 'not in the target'})
    } else if (target.size !== source.size) {
      addDifference(totals, {
        key,
        kind: 'size_differs',
        source: `${source.size} B`,
        target: `${target.size} B`,
        detail: `source ${source.size} B, target ${target.size} B`,
      })
    } else {
      addDifference(totals, {
        key,
        kind: 'not_the_copied_version',
        source: source.etag,
        target: target.versionId ?? target.etag,
        detail: `the target holds ${target.versionId ?? target.etag}, not the version the copy wrote`,
      })
    }
  }
  return totals
}

type Work =
  | {kind: 'proven'; row: Row & {source: CurrentVersion}; evidence: EvidenceLine | undefined; md5?: Md5Proof}
  | {kind: 'copy'; row: Row & {source: CurrentVersion}}
  | {kind: 'remove'; row: Row & {target: CurrentVersion}}

/** Brings the target to the source, recording evidence as it goes; returns what it did. */
export async function copyPass(sides: SyncSides, options: CopyPassOptions): Promise<PassTotals> {
  const totals = newTotals()
  async function* work(): AsyncGenerator<Work> {
    for await (const row of joined(sides)) {
      const {source, target, evidence} = row
      if (!source) {
        if (target) yield {kind: 'remove', row: {...row, target}}
        continue
      }
      totals.objects++
      totals.bytes += source.size
      if (evidence && evidence.action !== 'removed' && sameSource(evidence, source) && sameTarget(evidence, target)) {
        yield {kind: 'proven', row: {...row, source}, evidence}
        continue
      }
      const md5 = !evidence && target !== undefined ? await provenByMd5(sides, source, target) : undefined
      if (md5) {
        yield {kind: 'proven', row: {...row, source}, evidence, md5}
        continue
      }
      if (options.bulk && (await options.bulk.take({source: asSource(source), targetHasKey: target !== undefined})))
        continue
      yield {kind: 'copy', row: {...row, source}}
    }
  }

  const perform = async (item: Work): Promise<EvidenceLine | undefined> => {
    if (item.kind === 'proven') {
      const {source, target} = item.row
      totals.proven++
      options.onObject?.({key: source.key, size: source.size, action: 'proven'})
      // A key proven by its MD5 has no line yet: it gets one in any pass, or it would look like
      // a late write once the record points at the target.
      const evidence = item.evidence
      if (evidence) return options.recordProven ? {...evidence, action: 'proven'} : undefined
      // The evidence line of a proven key carries the identities it was proven by.
      const proof = item.md5!
      return line(source.key, source.size, 'proven', {
        source: {...asSource(source), versionId: proof.sourceVersionId ?? undefined},
        target: {etag: target!.etag, versionId: proof.targetVersionId, checksum: null},
      })
    }
    if (item.kind === 'remove') {
      const {target} = item.row
      sides.mayWrite?.()
      const marker = await deleteCurrentObject(sides.s3, {
        bucket: sides.targetBucket,
        key: target.key,
        expectedOwner: sides.owner,
      })
      totals.removed++
      options.onObject?.({key: target.key, size: 0, action: 'removed'})
      return line(target.key, 0, 'removed', {
        source: {key: target.key, size: 0, etag: ''},
        target: {etag: null, versionId: marker, checksum: null},
      })
    }
    const {source, target} = item.row
    try {
      const copied = await options.engine.copy({source: asSource(source), targetHasKey: target !== undefined})
      totals.copied++
      options.onObject?.({key: source.key, size: copied.source.size, action: 'copied'})
      return line(source.key, copied.source.size, 'copied', copied)
    } catch (error) {
      if (error instanceof AuditforgeError && error.code === 'archived') {
        addDifference(totals, {
          key: source.key,
          kind: 'archived',
          source: source.storageClass ?? null,
          target: null,
          detail: error.message,
        })
        options.onObject?.({key: source.key, size: source.size, action: 'archived'})
        return undefined
      }
      if (error instanceof AuditforgeError && error.code === 'source_vanished') {
        // Deleted from the source meanwhile: the target must not keep it either.
        totals.objects--
        totals.bytes -= source.size
        if (!target) return undefined
        sides.mayWrite?.()
        const marker = await deleteCurrentObject(sides.s3, {
          bucket: sides.targetBucket,
          key: source.key,
          expectedOwner: sides.owner,
        })
        totals.removed++
        return line(source.key, 0, 'removed', {
          source: {key: source.key, size: 0, etag: ''},
          target: {etag: null, versionId: marker, checksum: null},
        })
      }
      throw error
    }
  }

  await orderedMap(
    work(),
    // Only calls to S3 take a place in the shared pool; a proven key passes straight through.
    (item) => (item.kind === 'proven' ? perform(item) : options.limit(() => perform(item))),
    async (result) => {
      if (result) await options.record(result)
    },
    {window: options.window ?? 512, limit: (task) => task()},
  )
  return totals
}

export interface LatePassTotals {
  /** Keys written to the source after their copy (or new), copied over the migrated version. */
  copied: number
  /** Late writes the target had already moved on from: not copied, reported. */
  conflicts: Difference[]
  conflictCount: number
}

/**
 * After the flip, one more look at the source: a key written there between the last listing and
 * the flip (changed since its copy, or new) is a late write. It is copied when the target still
 * holds exactly the version the migration wrote (or, for a new key, nothing), and recorded with
 * action `late_write`; otherwise the application has already written the target and the late
 * write is a conflict for the operator, never overwritten.
 */
export async function latePass(
  sides: SyncSides,
  options: Omit<CopyPassOptions, 'recordProven'>,
): Promise<LatePassTotals> {
  const totals: LatePassTotals = {copied: 0, conflicts: [], conflictCount: 0}
  const conflict = (row: Row & {source: CurrentVersion}, target: CurrentVersion | undefined, detail: string) => {
    totals.conflictCount++
    if (totals.conflicts.length < maxListed)
      totals.conflicts.push({
        key: row.key,
        kind: 'changed_in_source',
        source: row.source.etag,
        target: target?.etag ?? null,
        detail,
      })
  }
  // The target is not listed: a late write is rare, and only its key's current version matters
  // (a HeadObject, in the pool with the copies).
  async function* late(): AsyncGenerator<Row & {source: CurrentVersion}> {
    for await (const row of joined(sides, {listTarget: false})) {
      const {source, evidence} = row
      if (source && !(evidence && evidence.action !== 'removed' && sameSource(evidence, source))) yield {...row, source}
    }
  }
  const notCopied =
    'written to the source after the switch, and the engagement bucket has been written since: not copied'
  const copyLate = async (row: Row & {source: CurrentVersion}): Promise<EvidenceLine | undefined> => {
    const {evidence} = row
    const target = await currentTarget(sides, row.key)
    const migrated = evidence !== undefined && evidence.action !== 'removed'
    if (migrated ? !sameTarget(evidence, target) : target !== undefined) {
      conflict(row, target, notCopied)
      return undefined
    }
    try {
      // Only over exactly the version the migration wrote, or onto nothing: the application
      // may write the key between this look and the copy.
      const copied = await options.engine.copy({
        source: asSource(row.source),
        targetHasKey: target !== undefined,
        replaces: target?.etag ?? null,
      })
      totals.copied++
      options.onObject?.({key: row.key, size: copied.source.size, action: 'late_write'})
      return line(row.key, copied.source.size, 'late_write', copied)
    } catch (error) {
      if (!(error instanceof AuditforgeError && error.code === 'target_changed')) throw error
      conflict(row, target, notCopied)
      return undefined
    }
  }
  await orderedMap(
    late(),
    (row) => options.limit(() => copyLate(row)),
    async (result) => {
      if (result) await options.record(result)
    },
    {window: options.window ?? 512, limit: (task) => task()},
  )
  return totals
}

/** A key's current version in the target, from a HeadObject; undefined when it has none. */
async function currentTarget(sides: SyncSides, key: string): Promise<CurrentVersion | undefined> {
  const head = await headObject(sides.s3, {bucket: sides.targetBucket, key, expectedOwner: sides.owner})
  if (!head) return undefined
  return {
    key,
    size: head.ContentLength ?? 0,
    etag: head.ETag ?? '',
    versionId: head.VersionId,
    storageClass: head.StorageClass,
  }
}

export interface AfterFlipTotals {
  /** Objects (and bytes) the evidence says were migrated. */
  objects: number
  bytes: number
  /** Source keys changed or added since their copy: for `migrate --reconcile`. */
  lateWrites: Difference[]
  lateWriteCount: number
  /** Migrated versions no longer in the target's history. */
  missing: Difference[]
  missingCount: number
  /** Information: keys the application has written in the target since the migration. */
  changedSinceMigration: number
  newInTarget: number
}

/**
 * `--verify-only` after the flip, against the evidence rather than "source equals target
 * today": the application writes to the engagement's bucket once the record points there, so
 * the target is expected to move on. What must hold: every migrated version still exists in the
 * target (the current object, or, where the application has written since, that version in its
 * history: one HeadObject for such keys only), and the source has not changed since its copy
 * (a change or a new key there is a late write, for `migrate --reconcile`).
 */
export async function afterFlipPass(sides: SyncSides): Promise<AfterFlipTotals> {
  const totals: AfterFlipTotals = {
    objects: 0,
    bytes: 0,
    lateWrites: [],
    lateWriteCount: 0,
    missing: [],
    missingCount: 0,
    changedSinceMigration: 0,
    newInTarget: 0,
  }
  const late = (key: string, source: CurrentVersion, target: CurrentVersion | undefined, detail: string) => {
    totals.lateWriteCount++
    if (totals.lateWrites.length < maxListed)
      totals.lateWrites.push({
        key,
        kind: 'changed_in_source',
        source: source.etag,
        target: target?.etag ?? null,
        detail,
      })
  }
  for await (const {key, source, target, evidence} of joined(sides)) {
    const migrated = evidence !== undefined && evidence.action !== 'removed'
    if (!migrated) {
      if (source) late(key, source, target, 'written to the shared bucket after the migration')
      if (target && !evidence) totals.newInTarget++
      continue
    }
    totals.objects++
    totals.bytes += evidence.size
    if (source && !sameSource(evidence, source))
      late(
        key,
        source,
        target,
        `changed in the shared bucket after its copy (now ${source.etag}, copied ${evidence.source_etag})`,
      )
    if (target && target.etag === evidence.target_etag && target.size === evidence.size) continue
    totals.changedSinceMigration++
    const version = nullVersion(evidence.target_version_id)
    const kept =
      version !== null &&
      (await headObject(sides.s3, {
        bucket: sides.targetBucket,
        key,
        versionId: version,
        expectedOwner: sides.owner,
      })) !== undefined
    if (!kept) {
      totals.missingCount++
      if (totals.missing.length < maxListed) {
        totals.missing.push({
          key,
          kind: 'missing',
          source: evidence.source_etag,
          target: version,
          detail: `the migrated version ${version ?? '(unknown)'} is no longer in the engagement bucket`,
        })
      }
    }
  }
  return totals
}
