/**
 * Deep checks, on demand, over what a migration says it copied: `--checksums` compares the
 * full-object checksums S3 stored with both sides of every migrated object, and
 * `--content-sample N` downloads N objects chosen uniformly at random from both sides and
 * compares the SHA-256 of their bytes. Identity verification (sync.ts) proves that the target
 * still holds the versions the copies wrote; these checks prove what those versions hold.
 *
 * Both run as one streamed pass over the object pairs (from the evidence, or from the listings
 * for a migration without evidence): checksum reads go through a bounded concurrency limiter
 * in a bounded window, and the sample is a reservoir of N pairs, so memory does not grow with
 * the number of objects. Every read is pinned to the version the pair names.
 *
 * HeadObject with `ChecksumMode: ENABLED` is used rather than GetObjectAttributes: it is pinned
 * by version id like every other read here, answers with the ETag and encryption in the same
 * call, needs no extra permission (GetObjectAttributes needs s3:GetObjectVersionAttributes for
 * a version), and works on every S3-compatible server the tests run against.
 */
import type {VerificationDifference} from '../../results/migrate.js'
import {createHash, randomInt as cryptoRandomInt} from 'node:crypto'

import type {HeadObjectCommandOutput, S3Client} from '@aws-sdk/client-s3'
import pLimit from 'p-limit'

import {invalidInput} from '../errors.js'
import {
  type StoredChecksum,
  checksumOf,
  compareKeys,
  headObject,
  openObjectVersionStream,
  pinnableVersion,
} from '../s3/index.js'
import type {EvidenceLine} from './evidence.js'
import {orderedMap} from './streams.js'

/** The largest `--content-sample`: the sample is held (and its digests recorded) whole. */
export const maxContentSample = 10_000

/**
 * `--content-sample N` as given: a positive integer up to {@link maxContentSample}, else a usage
 * error (exit 2), raised before any AWS call.
 */
export function validateContentSample(value: unknown): number {
  const text = String(value).trim()
  const number = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(number) || number < 1 || number > maxContentSample) {
    throw invalidInput(
      `Invalid --content-sample ${JSON.stringify(String(value))}: expected a whole number of objects from 1 to ${maxContentSample}`,
      'For example --content-sample 50 compares the bytes of 50 objects chosen at random.',
    )
  }
  return number
}

/** One migrated object: the source version it was copied from and the target version the copy wrote. */
export interface ObjectPair {
  key: string
  size: number
  source: {etag: string | null; versionId: string | null}
  target: {etag: string | null; versionId: string | null}
}

/** The migrated objects of an evidence stream (a key removed from the target is not one). */
export async function* evidencePairs(lines: AsyncIterable<EvidenceLine>): AsyncGenerator<ObjectPair> {
  for await (const line of lines) {
    if (line.action === 'removed') continue
    yield {
      key: line.key,
      size: line.size,
      source: {etag: line.source_etag, versionId: line.source_version_id},
      target: {etag: line.target_etag, versionId: line.target_version_id},
    }
  }
}

/** Where the two sides of every pair live. */
export interface DeepCheckSides {
  s3: S3Client
  sourceBucket: string
  targetBucket: string
  /** ExpectedBucketOwner of the target (the engagement's own bucket). */
  owner: string
}

export type Limit = <V>(task: () => Promise<V>) => Promise<V>

/** Why two stored checksums say nothing about each other's bytes. */
export type NotComparableReason =
  | 'no_source_checksum'
  | 'no_target_checksum'
  | 'different_algorithms'
  | 'composite'
  | 'source_version_gone'
  | 'source_changed'

/** Each reason in words, for people. */
export const notComparableText: Record<NotComparableReason, string> = {
  no_source_checksum: 'the source object has no stored checksum',
  no_target_checksum: 'the target object has no stored checksum',
  different_algorithms: 'the two sides store checksums of different algorithms',
  composite: 'a composite checksum (of the parts), not one of the whole object',
  source_version_gone: 'the copied source version is no longer in the shared bucket',
  source_changed: 'the unversioned source object changed after its copy',
}

export interface ChecksumComparison {
  key: string
  outcome: 'equal' | 'mismatch' | 'not_comparable' | 'target_missing'
  reason?: NotComparableReason
  source: StoredChecksum | null
  target: StoredChecksum | null
}

/** What `--checksums` found, as recorded in the evidence. */
export interface ChecksumCheck {
  /** `failed` on any mismatch or missing target version; objects not comparable do not fail it. */
  result: 'passed' | 'failed'
  checked_at: string
  /** Objects examined. */
  objects: number
  /** Objects whose two sides carry full-object checksums of the same algorithm. */
  compared: number
  equal: number
  mismatches: number
  /** Objects whose target version (the one the copy wrote) is not in the target. */
  target_missing: number
  not_comparable: number
  not_comparable_reasons: Partial<Record<NotComparableReason, number>>
  /** The first {@link maxListed} of each kind, by key. */
  mismatched: {key: string; source: string | null; target: string | null}[]
  missing: string[]
  not_comparable_objects: {key: string; reason: NotComparableReason}[]
}

/** One sampled object and the SHA-256 of each side's bytes (null: that side was not there). */
export interface SampledObject {
  key: string
  size: number
  source_version_id: string | null
  target_version_id: string | null
  source_sha256: string | null
  target_sha256: string | null
  outcome: 'equal' | 'differs' | 'target_missing' | 'source_gone'
}

/** What `--content-sample N` found, as recorded in the evidence. */
export interface ContentSampleCheck {
  /** `failed` when a sampled object's bytes differ or its target version is missing. */
  result: 'passed' | 'failed'
  checked_at: string
  /** N as asked. */
  requested: number
  /** The objects the sample was drawn from. */
  population: number
  /** min(N, population). */
  sampled: number
  equal: number
  mismatches: number
  /** Sampled objects whose source version is gone (after purge-source): not compared. */
  not_compared: number
  /** Every sampled object, by key. */
  objects: SampledObject[]
}

/** The deep checks of a run or a verification; null for a check that was not asked for. */
export interface DeepChecks {
  checksums: ChecksumCheck | null
  content_sample: ContentSampleCheck | null
}

export interface DeepCheckOptions {
  /** Compare the stored checksums of every pair. */
  checksums?: boolean
  /** Compare the bytes of this many pairs, chosen uniformly at random. */
  contentSample?: number
  /** The concurrency limiter for reads (shared with the copy pool on --execute). */
  limit?: Limit
  /** Pairs read ahead of the oldest one not yet tallied. */
  window?: number
  /** A uniform integer in [0, maxExclusive); injectable for tests. Default: node:crypto. */
  randomInt?: (maxExclusive: number) => number
  now?: () => Date
}

/** Whether any deep check was asked for. */
export function wantsDeepChecks(options: Pick<DeepCheckOptions, 'checksums' | 'contentSample'>): boolean {
  return Boolean(options.checksums) || (options.contentSample ?? 0) > 0
}

const maxListed = 100

/**
 * Whether a stored checksum covers the whole object. S3 says so in ChecksumType when it can; a
 * value ending in `-<parts>` is composite; CRC64NVME exists only as a full-object checksum; an
 * object that is not multipart (its ETag has no `-<parts>`) has only its whole to checksum.
 */
export function isFullObjectChecksum(checksum: StoredChecksum, etag: string | undefined): boolean {
  if (checksum.type === 'FULL_OBJECT') return true
  if (checksum.type === 'COMPOSITE' || /-\d+$/.test(checksum.value)) return false
  if (checksum.algorithm === 'CRC64NVME') return true
  return etag === undefined || !/-\d+"?$/.test(etag)
}

/**
 * Compares the checksums of one pair from a HeadObject of each side (with checksum mode): equal
 * values of full-object checksums of one algorithm are equal bytes; different values are
 * different bytes; anything else is not comparable, with the reason.
 */
export function judgeChecksums(
  pair: ObjectPair,
  sourceHead: HeadObjectCommandOutput | undefined,
  targetHead: HeadObjectCommandOutput | undefined,
): ChecksumComparison {
  const source = checksumOf(sourceHead)
  const target = checksumOf(targetHead)
  const result = (outcome: ChecksumComparison['outcome'], reason?: NotComparableReason): ChecksumComparison => ({
    key: pair.key,
    outcome,
    ...(reason ? {reason} : {}),
    source,
    target,
  })
  // Without a version id to pin to, the ETag tells whether the object is still the one copied.
  const moved = (side: ObjectPair['source'], head: HeadObjectCommandOutput) =>
    pinnableVersion(side.versionId ?? undefined) === undefined && side.etag !== null && head.ETag !== side.etag
  if (!targetHead || moved(pair.target, targetHead)) return result('target_missing')
  if (!sourceHead) return result('not_comparable', 'source_version_gone')
  if (moved(pair.source, sourceHead)) return result('not_comparable', 'source_changed')
  if (!source) return result('not_comparable', 'no_source_checksum')
  if (!target) return result('not_comparable', 'no_target_checksum')
  if (source.algorithm !== target.algorithm) return result('not_comparable', 'different_algorithms')
  if (!isFullObjectChecksum(source, sourceHead.ETag) || !isFullObjectChecksum(target, targetHead.ETag))
    return result('not_comparable', 'composite')
  return result(source.value === target.value ? 'equal' : 'mismatch')
}

/** HeadObject of both sides of a pair, pinned to its versions; with the stored checksums when asked. */
export async function headPair(
  sides: DeepCheckSides,
  pair: ObjectPair,
  options: {checksums: boolean},
): Promise<{source: HeadObjectCommandOutput | undefined; target: HeadObjectCommandOutput | undefined}> {
  const [source, target] = await Promise.all([
    headObject(
      sides.s3,
      {bucket: sides.sourceBucket, key: pair.key, versionId: pair.source.versionId ?? undefined},
      {checksums: options.checksums},
    ),
    headObject(
      sides.s3,
      {
        bucket: sides.targetBucket,
        key: pair.key,
        versionId: pair.target.versionId ?? undefined,
        expectedOwner: sides.owner,
      },
      {checksums: options.checksums},
    ),
  ])
  return {source, target}
}

/** Counts checksum comparisons as they come, keeping only the first few of each kind. */
export class ChecksumTally {
  private readonly check: Omit<ChecksumCheck, 'result' | 'checked_at'> = {
    objects: 0,
    compared: 0,
    equal: 0,
    mismatches: 0,
    target_missing: 0,
    not_comparable: 0,
    not_comparable_reasons: {},
    mismatched: [],
    missing: [],
    not_comparable_objects: [],
  }

  add(comparison: ChecksumComparison): void {
    const check = this.check
    check.objects++
    switch (comparison.outcome) {
      case 'equal':
        check.compared++
        check.equal++
        break
      case 'mismatch':
        check.compared++
        check.mismatches++
        if (check.mismatched.length < maxListed)
          check.mismatched.push({
            key: comparison.key,
            source: describeChecksum(comparison.source),
            target: describeChecksum(comparison.target),
          })
        break
      case 'target_missing':
        check.target_missing++
        if (check.missing.length < maxListed) check.missing.push(comparison.key)
        break
      case 'not_comparable': {
        const reason = comparison.reason!
        check.not_comparable++
        check.not_comparable_reasons[reason] = (check.not_comparable_reasons[reason] ?? 0) + 1
        if (check.not_comparable_objects.length < maxListed)
          check.not_comparable_objects.push({key: comparison.key, reason})
        break
      }
    }
  }

  result(checkedAt: Date): ChecksumCheck {
    const failed = this.check.mismatches > 0 || this.check.target_missing > 0
    return {result: failed ? 'failed' : 'passed', checked_at: checkedAt.toISOString(), ...this.check}
  }
}

/** `CRC64NVME FULL_OBJECT <value>`: a stored checksum as recorded for a mismatch. */
export function describeChecksum(checksum: StoredChecksum | null): string | null {
  return checksum ? [checksum.algorithm, checksum.type, checksum.value].filter(Boolean).join(' ') : null
}

/**
 * A uniform random sample of at most `size` items of a stream of unknown length, in constant
 * memory (Vitter's algorithm R): the i-th item (from 0) replaces a random slot with probability
 * size / (i + 1), so every item ends up in the sample with the same probability.
 */
export class Reservoir<T> {
  private readonly held: T[] = []
  private count = 0

  constructor(
    readonly size: number,
    private readonly randomInt: (maxExclusive: number) => number = cryptoRandomInt,
  ) {}

  offer(item: T): void {
    const index = this.count++
    if (index < this.size) {
      this.held.push(item)
      return
    }
    const slot = this.randomInt(index + 1)
    if (slot < this.size) this.held[slot] = item
  }

  /** Items offered so far. */
  get seen(): number {
    return this.count
  }

  /** The sample (never more than `size` items). */
  get items(): readonly T[] {
    return this.held
  }
}

/** The SHA-256 (hex) of one object version's bytes, read as a stream; undefined when it is not there. */
export async function sha256OfVersion(
  s3: S3Client,
  location: {bucket: string; key: string; versionId: string | null; etag: string | null; expectedOwner?: string},
): Promise<string | undefined> {
  const opened = await openObjectVersionStream(
    s3,
    {
      bucket: location.bucket,
      key: location.key,
      versionId: location.versionId ?? undefined,
      expectedOwner: location.expectedOwner,
    },
    {action: 'Reading an object for the content sample', ifMatch: location.etag ?? undefined},
  )
  if (!opened) return undefined
  const hash = createHash('sha256')
  for await (const chunk of opened.body) hash.update(chunk as Uint8Array)
  return hash.digest('hex')
}

/** Downloads both sides of a pair (pinned to its versions) and compares the SHA-256 of their bytes. */
export async function compareContent(sides: DeepCheckSides, pair: ObjectPair): Promise<SampledObject> {
  const [source, target] = await Promise.all([
    sha256OfVersion(sides.s3, {bucket: sides.sourceBucket, key: pair.key, ...pair.source}),
    sha256OfVersion(sides.s3, {bucket: sides.targetBucket, key: pair.key, ...pair.target, expectedOwner: sides.owner}),
  ])
  const outcome: SampledObject['outcome'] =
    target === undefined
      ? 'target_missing'
      : source === undefined
        ? 'source_gone'
        : source === target
          ? 'equal'
          : 'differs'
  return {
    key: pair.key,
    size: pair.size,
    source_version_id: pair.source.versionId,
    target_version_id: pair.target.versionId,
    source_sha256: source ?? null,
    target_sha256: target ?? null,
    outcome,
  }
}

/** Compares the bytes of every sampled pair, a few at a time. */
export async function checkSample(
  sides: DeepCheckSides,
  sample: readonly ObjectPair[],
  counts: {requested: number; population: number},
  options: {limit: Limit; now: () => Date},
): Promise<ContentSampleCheck> {
  const objects: SampledObject[] = []
  const sorted = [...sample].sort((a, b) => compareKeys(a.key, b.key))
  await orderedMap(
    (async function* () {
      yield* sorted
    })(),
    (pair) => options.limit(() => compareContent(sides, pair)),
    (sampled) => {
      objects.push(sampled)
    },
    {window: 64, limit: (task) => task()},
  )
  const count = (outcome: SampledObject['outcome']) => objects.filter((object) => object.outcome === outcome).length
  const mismatches = count('differs') + count('target_missing')
  return {
    result: mismatches > 0 ? 'failed' : 'passed',
    checked_at: options.now().toISOString(),
    requested: counts.requested,
    population: counts.population,
    sampled: objects.length,
    equal: count('equal'),
    mismatches,
    not_compared: count('source_gone'),
    objects,
  }
}

/**
 * Runs the deep checks asked for over a stream of pairs, in one pass: with `checksums`, both
 * sides of every pair are read (HeadObject with checksum mode, pinned to the pair's versions)
 * and compared; with `contentSample`, a uniform sample of that many pairs is drawn as they
 * stream by and then compared byte for byte. Memory: the read window and the sample.
 */
export async function runDeepChecks(
  sides: DeepCheckSides,
  pairs: AsyncIterable<ObjectPair>,
  options: DeepCheckOptions,
): Promise<DeepChecks> {
  const limit: Limit = options.limit ?? pLimit(16)
  const now = options.now ?? (() => new Date())
  const tally = options.checksums ? new ChecksumTally() : undefined
  const requested = options.contentSample ?? 0
  const reservoir = requested > 0 ? new Reservoir<ObjectPair>(requested, options.randomInt) : undefined

  async function* offered(): AsyncGenerator<ObjectPair> {
    for await (const pair of pairs) {
      reservoir?.offer(pair)
      yield pair
    }
  }
  if (tally) {
    await orderedMap(
      offered(),
      (pair) =>
        limit(async () => {
          const heads = await headPair(sides, pair, {checksums: true})
          return judgeChecksums(pair, heads.source, heads.target)
        }),
      (comparison) => tally.add(comparison),
      {window: options.window ?? 512, limit: (task) => task()},
    )
  } else {
    for await (const _pair of offered()) {
      // Only drawing the sample.
    }
  }
  const checksums = tally ? tally.result(now()) : null
  const content = reservoir
    ? await checkSample(sides, reservoir.items, {requested, population: reservoir.seen}, {limit, now})
    : null
  return {checksums, content_sample: content}
}

/** How many objects failed the deep checks (a mismatch, or a target version that is gone). */
export function deepCheckFailures(checks: DeepChecks | null | undefined): number {
  if (!checks) return 0
  return (
    (checks.checksums ? checks.checksums.mismatches + checks.checksums.target_missing : 0) +
    (checks.content_sample?.mismatches ?? 0)
  )
}

/** The checksum check's failures as differences: the listed mismatches, then the target versions found missing. */
export function checksumDifferences(checksums: ChecksumCheck | null | undefined): VerificationDifference[] {
  if (!checksums) return []
  return [
    ...checksums.mismatched.map((object) => ({
      key: object.key,
      kind: 'checksum_differs' as const,
      source: object.source,
      target: object.target,
      detail: `source ${object.source}, target ${object.target}`,
    })),
    ...checksums.missing.map((key) => ({
      key,
      kind: 'target_version_missing' as const,
      source: null,
      target: null,
      detail: 'the version the copy wrote is not in the engagement bucket',
    })),
  ]
}

/** Checksum differences found beyond those listed. */
export function unlistedChecksumDifferences(checksums: ChecksumCheck | null | undefined): number {
  if (!checksums) return 0
  return checksums.mismatches + checksums.target_missing - (checksums.mismatched.length + checksums.missing.length)
}

/** The content sample's failures as differences, one per sampled object that failed. */
export function sampleDifferences(sample: ContentSampleCheck | null | undefined): VerificationDifference[] {
  const differences: VerificationDifference[] = []
  for (const object of sample?.objects ?? []) {
    if (object.outcome === 'differs') {
      differences.push({
        key: object.key,
        kind: 'content_differs',
        source: `SHA-256 ${object.source_sha256}`,
        target: `SHA-256 ${object.target_sha256}`,
        detail: `SHA-256 source ${object.source_sha256}, target ${object.target_sha256}`,
      })
    }
    if (object.outcome === 'target_missing') {
      differences.push({
        key: object.key,
        kind: 'target_version_missing',
        source: object.source_version_id,
        target: null,
        detail: `sampled; the version ${object.target_version_id ?? '(unknown)'} is not in the engagement bucket`,
      })
    }
  }
  return differences
}
