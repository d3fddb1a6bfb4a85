/**
 * `--verify-only` for engagements already migrated: against the evidence when there is one
 * (sync.ts afterFlipPass), and for a migration from before evidence, by what can be proven from
 * both sides as they stand. Either way with the deep checks asked for (deep-check.ts), whose
 * results are stored as a verification record in the engagement's bucket.
 *
 * Nothing is accepted on size alone: without evidence an object is proven only by equal
 * single-part MD5 ETags of objects that are not SSE-KMS encrypted, by equal full-object
 * checksums (`--checksums`), or by equal bytes (`--content-sample`); every other object is
 * reported as unproven, which fails verification.
 */
import type {DifferenceKind, VerificationDifference, VerifyOutcome} from '../../results/migrate.js'
import pLimit from 'p-limit'

import type {AwsContext} from '../aws.js'
import {EngagementIndex, type EngagementRecord} from '../engagement-index.js'
import {notFound} from '../errors.js'
import {migrationKeys, validateEngagementId} from '../layout.js'
import {
  ChecksumTally,
  type ChecksumComparison,
  type DeepCheckOptions,
  type DeepCheckSides,
  type ObjectPair,
  Reservoir,
  checkSample,
  checksumDifferences,
  unlistedChecksumDifferences,
  deepCheckFailures,
  evidencePairs,
  headPair,
  judgeChecksums,
  notComparableText,
  runDeepChecks,
  sampleDifferences,
  maxContentSample,
  validateContentSample,
  wantsDeepChecks,
} from './deep-check.js'
import {
  type EvidenceLine,
  type EvidenceLocation,
  readEvidence,
  readSummaries,
  writeVerificationRecord,
} from './evidence.js'
import {type Row, afterFlipPass, isMd5, joined, md5Proves} from './sync.js'
import {orderedMap} from './streams.js'
import {agree, plural} from '../wording.js'

export type {VerifyOutcome} from '../../results/migrate.js'

/** What `--verify-only` may be asked to do beyond identity verification. */
export interface VerifyOptions extends Pick<DeepCheckOptions, 'checksums' | 'contentSample' | 'randomInt' | 'now'> {
  /** Reads in flight at once (HeadObject and downloads). */
  concurrency?: number
  /** Recorded in the verification record (the CLI's version). */
  toolVersion?: string
}

const maxListed = 1000

/**
 * Verifies a migrated engagement without copying. With evidence: every migrated version still in
 * the engagement's bucket, the shared bucket unchanged since the copy (what the application wrote
 * since is information, not a difference). Without evidence (a migration from before it): every
 * shared-bucket key present in the engagement's bucket with the same size and proven as
 * {@link verifyWithoutEvidence} says. Then the deep checks asked for, over the evidence's pairs
 * (or the listed ones); when any was asked for, the result is stored as a verification record
 * (a conditional put under the engagement's reserved migrations prefix).
 */
export async function verifyMigratedEngagement(
  context: AwsContext,
  sharedBucket: string,
  record: EngagementRecord,
  options: VerifyOptions = {},
): Promise<VerifyOutcome> {
  if (options.contentSample !== undefined) validateContentSample(options.contentSample)
  const id = record.engagement_id
  const owner = await context.accountId()
  // Deep checks end in a verification record that names its operator: looked up before the work.
  if (wantsDeepChecks(options)) await context.callerArn()
  const now = options.now ?? (() => new Date())
  const location: EvidenceLocation = {bucket: record.source_bucket, expectedOwner: owner, engagementId: id}
  const sides: DeepCheckSides = {s3: context.s3, sourceBucket: sharedBucket, targetBucket: record.source_bucket, owner}
  const limit = pLimit(options.concurrency ?? 16)
  const runs = await readSummaries(context.s3, location)
  const {differenceCount, ...outcome} =
    runs.length === 0
      ? await verifyWithoutEvidence(sides, id, options, limit)
      : await verifyAgainstEvidence(sides, id, location, options, limit)
  const result: VerifyOutcome = {
    engagement_id: id,
    target_bucket: record.source_bucket,
    evidence_run: runs.at(-1)?.run_id ?? null,
    verification_record: null,
    ...outcome,
  }
  // No evidence and nothing of the engagement in the shared bucket: it was created in its own
  // bucket (or never had data); "verified" would suggest a copy that never happened.
  if (runs.length === 0 && outcome.objects === 0 && differenceCount === 0) result.status = 'no_migration'
  if (outcome.deep_checks) {
    const checkedAt = now()
    result.verification_record = await writeVerificationRecord(context.s3, location, {
      engagement_id: id,
      verification_id: migrationKeys.newRunId(checkedAt),
      tool_version: options.toolVersion ?? 'unknown',
      operator_arn: await context.callerArn(),
      source_bucket: sharedBucket,
      target_bucket: record.source_bucket,
      checked_at: checkedAt.toISOString(),
      evidence_run: result.evidence_run,
      result: result.status === 'verification_failed' ? 'failed' : 'passed',
      differences: differenceCount,
      unproven: result.unproven,
      late_writes: result.late_writes,
      changed_since_migration: result.changed_since_migration,
      new_in_target: result.new_in_target,
      deep_checks: outcome.deep_checks,
    })
  }
  return result
}

/** An engagement's verification before it is named and recorded; `differenceCount` counts past the listed lines. */
type Verified = Omit<VerifyOutcome, 'engagement_id' | 'target_bucket' | 'evidence_run' | 'verification_record'> & {
  differenceCount: number
}

/** After the flip, against the evidence (sync.ts afterFlipPass), then the deep checks over its pairs. */
async function verifyAgainstEvidence(
  sides: DeepCheckSides,
  id: string,
  location: EvidenceLocation,
  options: VerifyOptions,
  limit: ReturnType<typeof pLimit>,
): Promise<Verified> {
  const evidence = () => readEvidence(sides.s3, location)
  const totals = await afterFlipPass({...sides, engagementId: id, evidence: evidence()})
  const deep = wantsDeepChecks(options)
    ? await runDeepChecks(sides, evidencePairs(evidence()), {...options, limit})
    : null
  const reconcile = `auditforge migrate --reconcile --engagement-id ${id}`
  const differences: VerificationDifference[] = [
    ...totals.missing.map((difference) => ({...difference, kind: 'migrated_version_missing' as const})),
    ...totals.lateWrites.map((difference) => ({
      ...difference,
      kind: 'late_write' as const,
      detail: `${difference.detail}; \`${reconcile}\` copies it`,
    })),
    ...checksumDifferences(deep?.checksums),
    ...sampleDifferences(deep?.content_sample),
  ]
  const listed = totals.missing.length + totals.lateWrites.length
  const all = totals.missingCount + totals.lateWriteCount
  const deepFailures = deepCheckFailures(deep)
  return {
    objects: totals.objects,
    bytes: totals.bytes,
    status: all + deepFailures > 0 ? 'verification_failed' : 'verified',
    differences,
    unlisted_differences: all - listed + unlistedChecksumDifferences(deep?.checksums),
    differenceCount: all + deepFailures,
    changed_since_migration: totals.changedSinceMigration,
    new_in_target: totals.newInTarget,
    late_writes: totals.lateWriteCount,
    unproven: 0,
    deep_checks: deep,
    suggestion: null,
  }
}

/** What one listed key of a migration without evidence comes to. */
type Verdict =
  | {kind: 'target_only'}
  | {
      kind: 'difference'
      size: number
      difference: VerificationDifference
      pair?: ObjectPair
      checksum?: ChecksumComparison
    }
  | {
      kind: 'proven' | 'unproven'
      size: number
      pair: ObjectPair
      difference?: VerificationDifference
      checksum?: ChecksumComparison
    }

/** Nothing: a migration from before evidence has none to merge. */
async function* noEvidence(): AsyncGenerator<EvidenceLine> {}

/**
 * A migration from before evidence, compared as both sides stand (one merge-join of the two
 * listings, streamed). Every shared-bucket key must be in the engagement's bucket with the same
 * size, and be proven: by equal single-part MD5 ETags of objects that are not SSE-KMS (a
 * HeadObject of each side says), by equal full-object checksums with `--checksums`, or by equal
 * bytes when `--content-sample` drew it. An object nothing proves is unproven: a difference, with
 * a suggestion of the check that can prove it. Keys only in the engagement's bucket were written
 * there since (information).
 */
async function verifyWithoutEvidence(
  sides: DeepCheckSides,
  id: string,
  options: VerifyOptions,
  limit: ReturnType<typeof pLimit>,
): Promise<Verified> {
  const checksums = Boolean(options.checksums)
  const tally = checksums ? new ChecksumTally() : undefined
  const requested = options.contentSample ?? 0
  const reservoir =
    requested > 0 ? new Reservoir<{pair: ObjectPair; unproven: boolean}>(requested, options.randomInt) : undefined
  const found = {objects: 0, bytes: 0, newInTarget: 0, differenceCount: 0, unproven: 0}
  const differences: VerificationDifference[] = []
  let unproven: {key: string; difference: VerificationDifference}[] = []

  const judge = async ({key, source, target}: Row): Promise<Verdict> => {
    if (!source) return {kind: 'target_only'}
    const size = source.size
    const differs = (
      kind: DifferenceKind,
      sides: [string | null, string | null],
      detail: string | null,
    ): VerificationDifference => ({key, kind, source: sides[0], target: sides[1], detail})
    if (!target) return {kind: 'difference', size, difference: differs('missing_in_target', [source.etag, null], null)}
    if (target.size !== source.size) {
      return {
        kind: 'difference',
        size,
        difference: differs(
          'size_differs',
          [`${source.size} B`, `${target.size} B`],
          `source ${source.size} B, target ${target.size} B`,
        ),
      }
    }
    const pair: ObjectPair = {
      key,
      size,
      source: {etag: source.etag, versionId: source.versionId ?? null},
      target: {etag: target.etag, versionId: target.versionId ?? null},
    }
    const bothMd5 = isMd5(source.etag) && isMd5(target.etag)
    if (!checksums && !bothMd5)
      return {
        kind: 'unproven',
        size,
        pair,
        difference: differs(
          'unproven',
          [source.etag, target.etag],
          'same size; a multipart ETag is not an MD5 of the bytes',
        ),
      }
    const heads = await limit(() => headPair(sides, pair, {checksums}))
    const checksum = checksums ? judgeChecksums(pair, heads.source, heads.target) : undefined
    if (checksum?.outcome === 'mismatch') {
      const sides: [string, string] = [describe(checksum.source), describe(checksum.target)]
      return {
        kind: 'difference',
        size,
        pair,
        checksum,
        difference: differs('checksum_differs', sides, `source ${sides[0]}, target ${sides[1]}`),
      }
    }
    if (checksum?.outcome === 'target_missing')
      return {
        kind: 'difference',
        size,
        checksum,
        difference: differs('missing_in_target', [source.etag, null], 'gone or changed while it was verified'),
      }
    if (md5Proves(source, target, heads.source, heads.target) || checksum?.outcome === 'equal')
      return {kind: 'proven', size, pair, checksum}
    const kms = [heads.source, heads.target].some((head) => head?.ServerSideEncryption?.startsWith('aws:kms'))
    if (bothMd5 && !kms && heads.source && heads.target && source.etag !== target.etag) {
      return {
        kind: 'difference',
        size,
        pair,
        checksum,
        difference: differs(
          'content_differs',
          [source.etag, target.etag],
          `MD5 ETags: source ${source.etag}, target ${target.etag}`,
        ),
      }
    }
    const why = !bothMd5
      ? 'a multipart ETag is not an MD5 of the bytes'
      : kms
        ? 'SSE-KMS ETags are not MD5s of the bytes'
        : 'it changed while it was verified'
    const also = checksum?.reason ? `; not comparable by checksum: ${notComparableText[checksum.reason]}` : ''
    return {
      kind: 'unproven',
      size,
      pair,
      checksum,
      difference: differs('unproven', [source.etag, target.etag], `same size; ${why}${also}`),
    }
  }
  const tallied = (verdict: Verdict) => {
    if (verdict.kind === 'target_only') {
      found.newInTarget++
      return
    }
    found.objects++
    found.bytes += verdict.size
    if (verdict.checksum) tally?.add(verdict.checksum)
    if (verdict.pair) reservoir?.offer({pair: verdict.pair, unproven: verdict.kind === 'unproven'})
    if (verdict.kind === 'difference') {
      found.differenceCount++
      if (differences.length < maxListed) differences.push(verdict.difference)
    } else if (verdict.kind === 'unproven') {
      found.unproven++
      if (unproven.length < maxListed) unproven.push({key: verdict.pair.key, difference: verdict.difference!})
    }
  }
  await orderedMap(joined({...sides, engagementId: id, evidence: noEvidence()}), judge, tallied, {
    window: 512,
    limit: (task) => task(),
  })

  const now = options.now ?? (() => new Date())
  const sample = reservoir
    ? await checkSample(
        sides,
        reservoir.items.map((item) => item.pair),
        {requested, population: reservoir.seen},
        {limit, now},
      )
    : null
  if (sample) {
    // A sampled object's bytes decide it: equal on both sides proves it, different bytes (or a
    // target gone meanwhile) are a difference of their own; either way it is no longer unproven.
    const wasUnproven = new Set(reservoir!.items.filter((item) => item.unproven).map((item) => item.pair.key))
    const decided = new Set(
      sample.objects
        .filter((object) => object.outcome !== 'source_gone' && wasUnproven.has(object.key))
        .map((object) => object.key),
    )
    found.unproven -= decided.size
    unproven = unproven.filter((object) => !decided.has(object.key))
    const failed = sampleDifferences(sample)
    found.differenceCount += failed.length
    differences.push(...failed)
  }
  const listed = [...differences, ...unproven.map((object) => object.difference)]
  const all = found.differenceCount + found.unproven
  return {
    objects: found.objects,
    bytes: found.bytes,
    status: all > 0 ? 'verification_failed' : 'verified',
    differences: listed,
    unlisted_differences: Math.max(0, all - listed.length),
    differenceCount: all,
    changed_since_migration: 0,
    new_in_target: found.newInTarget,
    late_writes: 0,
    unproven: found.unproven,
    deep_checks: wantsDeepChecks(options) ? {checksums: tally?.result(now()) ?? null, content_sample: sample} : null,
    suggestion: found.unproven > 0 ? unprovenSuggestion(id, found.unproven, found.objects, checksums) : null,
  }
}

function describe(checksum: ChecksumComparison['source']): string {
  return checksum ? `${checksum.algorithm} ${checksum.value}` : 'none'
}

/**
 * What proves the objects left unproven of a migration without evidence: their stored checksums
 * first (one HeadObject per side, no download), then their bytes. Migrating again is no answer:
 * the record already points at the engagement's bucket, where the application writes now.
 */
function unprovenSuggestion(id: string, unproven: number, objects: number, checksumsDone: boolean): string {
  const everyObject = Math.min(objects, maxContentSample)
  const bytes = `\`auditforge migrate --verify-only --engagement-id ${id} --content-sample ${everyObject}\` compares the bytes of ${everyObject >= objects ? 'every object' : `${everyObject} objects drawn at random`}`
  if (checksumsDone)
    return `${plural(unproven, 'object')} ${agree(unproven, 'has', 'have')} no checksums that can be compared and no MD5 ETags; only their bytes prove them: ${bytes}.`
  return `${plural(unproven, 'object')} ${agree(unproven, 'is', 'are')} not proven by MD5 ETags (multipart or SSE-KMS) and size alone proves nothing. \`auditforge migrate --verify-only --engagement-id ${id} --checksums\` compares the checksums S3 stored on both sides; what that cannot compare, only bytes prove: ${bytes}.`
}

/**
 * The engagements `--verify-only` checks: every migrated one, or the one named. A named
 * engagement that was never migrated fails verification: there is no target to compare.
 */
export async function verifyMigrations(
  context: AwsContext,
  sharedBucket: string,
  engagementId?: string,
  options: VerifyOptions = {},
): Promise<VerifyOutcome[]> {
  if (options.contentSample !== undefined) validateContentSample(options.contentSample)
  const records = await new EngagementIndex(context.s3, sharedBucket).list()
  let selected = records.filter((record) => record.source_bucket)
  if (engagementId !== undefined) {
    const record = records.find((candidate) => candidate.engagement_id === validateEngagementId(engagementId))
    if (!record) throw notFound(`No engagement ${engagementId} in the index of ${sharedBucket}`)
    if (!record.source_bucket) {
      return [
        {
          engagement_id: engagementId,
          target_bucket: '',
          objects: 0,
          bytes: 0,
          status: 'verification_failed',
          differences: [
            {key: null, kind: 'not_migrated', source: null, target: null, detail: 'source_bucket is empty'},
          ],
          unlisted_differences: 0,
          evidence_run: null,
          changed_since_migration: 0,
          new_in_target: 0,
          late_writes: 0,
          unproven: 0,
          deep_checks: null,
          verification_record: null,
          suggestion: null,
        },
      ]
    }
    selected = [record]
  }
  const outcomes: VerifyOutcome[] = []
  for (const record of selected) outcomes.push(await verifyMigratedEngagement(context, sharedBucket, record, options))
  return outcomes
}
