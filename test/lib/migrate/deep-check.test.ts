/**
 * The deep checks with aws-sdk-client-mock, for what moto cannot produce: stored checksums of
 * every kind (full-object and composite, other algorithms, none), SSE-KMS and multipart ETags
 * beside them, versions that are gone; and the sample's uniformity with a seeded generator and
 * its constant memory.
 */
import {createHash} from 'node:crypto'
import {Readable} from 'node:stream'

import {
  GetObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  NotFound,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3'
import {sdkStreamMixin} from '@smithy/core/serde'
import {mockClient} from 'aws-sdk-client-mock'
import pLimit from 'p-limit'
import {beforeEach, describe, expect, it} from 'vitest'

import {
  type DeepCheckSides,
  type ObjectPair,
  Reservoir,
  deepCheckFailures,
  evidencePairs,
  isFullObjectChecksum,
  judgeChecksums,
  runDeepChecks,
  validateContentSample,
} from '../../../src/lib/migrate/deep-check.js'
import type {EvidenceLine} from '../../../src/lib/migrate/evidence.js'
import {evidenceLine} from '../../helpers/migrate.js'

const s3Mock = mockClient(S3Client)
const owner = '123456789012'

function sides(): DeepCheckSides {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  return {
    s3: new S3Client({region: 'us-east-1', credentials: {accessKeyId: 'x', secretAccessKey: 'x'}}),
    sourceBucket: 'shared',
    targetBucket: 'own',
    owner,
  }
}

function pair(key: string, extra: Partial<ObjectPair> = {}): ObjectPair {
  return {
    key,
    size: 4,
    source: {etag: '"s"', versionId: `sv-${key}`},
    target: {etag: '"t"', versionId: `tv-${key}`},
    ...extra,
  }
}

const crc = (value: string, type: string | undefined = 'FULL_OBJECT'): HeadObjectCommandOutput => ({
  $metadata: {},
  ETag: '"e"',
  ChecksumCRC64NVME: value,
  ...(type ? {ChecksumType: type as 'FULL_OBJECT'} : {}),
})
const sha256 = (body: string) => createHash('sha256').update(body).digest('hex')

/** mulberry32: a small seeded generator, so the sampling tests are exact and repeatable. */
function seeded(seed: number): (maxExclusive: number) => number {
  let state = seed >>> 0
  return (maxExclusive) => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4_294_967_296) * maxExclusive)
  }
}

async function* streamOf<T>(items: Iterable<T>): AsyncGenerator<T> {
  yield* items
}

const notFound = () => new NotFound({$metadata: {httpStatusCode: 404}, message: 'Not Found'})
const noSuchVersion = () =>
  new S3ServiceException({
    name: 'NoSuchVersion',
    $fault: 'client',
    $metadata: {httpStatusCode: 404},
    message: 'NoSuchVersion',
  })

beforeEach(() => {
  s3Mock.reset()
})

describe('--content-sample N', () => {
  it('is a whole number from 1 to 10000, else exit 2', () => {
    expect(validateContentSample('5')).toBe(5)
    expect(validateContentSample(10_000)).toBe(10_000)
    for (const bad of ['0', '-1', 'x', '1.5', '', '10001', 0, -3, Number.NaN, '1e3']) {
      expect(() => validateContentSample(bad), String(bad)).toThrow(
        expect.objectContaining({exit: 2, message: expect.stringContaining('--content-sample')}),
      )
    }
  })
})

describe('which stored checksums can be compared', () => {
  it('tells full-object checksums from composite ones', () => {
    expect(isFullObjectChecksum({algorithm: 'CRC32', type: 'FULL_OBJECT', value: 'AAAA'}, '"abc-3"')).toBe(true)
    expect(isFullObjectChecksum({algorithm: 'CRC32', type: 'COMPOSITE', value: 'AAAA-3'}, '"abc-3"')).toBe(false)
    // No type given: the value's "-N", the algorithm, then the ETag decide.
    expect(isFullObjectChecksum({algorithm: 'SHA256', type: null, value: 'AAAA-3'}, undefined)).toBe(false)
    expect(isFullObjectChecksum({algorithm: 'CRC64NVME', type: null, value: 'AAAA'}, '"abc-3"')).toBe(true)
    expect(
      isFullObjectChecksum({algorithm: 'CRC32', type: null, value: 'AAAA'}, '"0cc175b9c0f1b6a831c399e269772661"'),
    ).toBe(true)
    expect(
      isFullObjectChecksum({algorithm: 'CRC32', type: null, value: 'AAAA'}, '"0cc175b9c0f1b6a831c399e269772661-2"'),
    ).toBe(false)
  })

  it('equal full-object checksums of one algorithm are equal; different values differ', () => {
    expect(judgeChecksums(pair('k'), crc('AAAAAAAAAAA='), crc('AAAAAAAAAAA='))).toMatchObject({outcome: 'equal'})
    expect(judgeChecksums(pair('k'), crc('AAAAAAAAAAA='), crc('BBBBBBBBBBB='))).toMatchObject({
      outcome: 'mismatch',
      source: {algorithm: 'CRC64NVME', type: 'FULL_OBJECT', value: 'AAAAAAAAAAA='},
      target: {algorithm: 'CRC64NVME', type: 'FULL_OBJECT', value: 'BBBBBBBBBBB='},
    })
  })

  it('SSE-KMS and multipart ETags do not matter: the checksums are compared all the same', () => {
    const kms = (value: string, etag: string): HeadObjectCommandOutput => ({
      ...crc(value),
      ETag: etag,
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'arn:aws:kms:x',
    })
    // A KMS source ETag (not an MD5) and the copy's multipart ETag: unequal ETags, equal bytes.
    expect(
      judgeChecksums(
        pair('k'),
        kms('AAAAAAAAAAA=', '"9b2cf535f27731c974343645a3985328"'),
        kms('AAAAAAAAAAA=', '"0123456789abcdef0123456789abcdef-3"'),
      ),
    ).toMatchObject({outcome: 'equal'})
    expect(
      judgeChecksums(
        pair('k'),
        kms('AAAAAAAAAAA=', '"9b2cf535f27731c974343645a3985328"'),
        kms('CCCCCCCCCCC=', '"9b2cf535f27731c974343645a3985328"'),
      ),
    ).toMatchObject({outcome: 'mismatch'})
  })

  it('anything else is not comparable, with the reason, and never passed as equal', () => {
    const none: HeadObjectCommandOutput = {$metadata: {}, ETag: '"e"'}
    const crc32 = (value: string, type?: string, etag = '"e"'): HeadObjectCommandOutput => ({
      $metadata: {},
      ETag: etag,
      ChecksumCRC32: value,
      ...(type ? {ChecksumType: type as 'COMPOSITE'} : {}),
    })
    const cases: [HeadObjectCommandOutput | undefined, HeadObjectCommandOutput | undefined, string][] = [
      [none, crc('AAAAAAAAAAA='), 'no_source_checksum'],
      [crc('AAAAAAAAAAA='), none, 'no_target_checksum'],
      [crc32('AAAAAA=='), crc('AAAAAAAAAAA='), 'different_algorithms'],
      // Composite against composite, and composite against full-object, even with equal values.
      [crc32('AAAAAA==-3', 'COMPOSITE', '"x-3"'), crc32('AAAAAA==-3', 'COMPOSITE', '"x-3"'), 'composite'],
      [crc32('AAAAAA==-3', 'COMPOSITE', '"x-3"'), crc32('AAAAAA==', 'FULL_OBJECT'), 'composite'],
      [crc32('AAAAAA==', undefined, '"x-2"'), crc32('AAAAAA==', undefined, '"x-2"'), 'composite'],
      [undefined, crc('AAAAAAAAAAA='), 'source_version_gone'],
    ]
    for (const [source, target, reason] of cases)
      expect(judgeChecksums(pair('k'), source, target), reason).toMatchObject({outcome: 'not_comparable', reason})
    // An unversioned source that changed since its copy (its ETag is not the one copied).
    expect(judgeChecksums(pair('k', {source: {etag: '"old"', versionId: null}}), crc('A'), crc('A'))).toMatchObject({
      outcome: 'not_comparable',
      reason: 'source_changed',
    })
    // The target version the copy wrote is gone: a failure, not a shrug.
    expect(judgeChecksums(pair('k'), crc('A'), undefined)).toMatchObject({outcome: 'target_missing'})
  })
})

describe('runDeepChecks --checksums', () => {
  /** HeadObject answers by bucket, key and version; anything else is 404. */
  function heads(answers: Record<string, HeadObjectCommandOutput>): void {
    s3Mock.on(HeadObjectCommand).callsFake(async (input) => {
      const answer = answers[`${input.Bucket}/${input.Key}@${input.VersionId}`]
      if (!answer) throw notFound()
      return answer
    })
  }

  it('reads both sides of every pair pinned to its versions with checksum mode, and counts and lists each outcome', async () => {
    heads({
      'shared/a@sv-a': crc('AAAAAAAAAAA='),
      'own/a@tv-a': crc('AAAAAAAAAAA='),
      'shared/b@sv-b': crc('AAAAAAAAAAA='),
      'own/b@tv-b': crc('BBBBBBBBBBB='),
      'shared/c@sv-c': {$metadata: {}, ETag: '"e"'},
      'own/c@tv-c': crc('CCCCCCCCCCC='),
      'shared/d@sv-d': crc('DDDDDDDDDDD='),
    })
    const checks = await runDeepChecks(sides(), streamOf(['a', 'b', 'c', 'd'].map((key) => pair(key))), {
      checksums: true,
      now: () => new Date('2026-02-03T04:05:06Z'),
    })

    expect(checks.content_sample).toBeNull()
    expect(checks.checksums).toEqual({
      result: 'failed',
      checked_at: '2026-02-03T04:05:06.000Z',
      objects: 4,
      compared: 2,
      equal: 1,
      mismatches: 1,
      target_missing: 1,
      not_comparable: 1,
      not_comparable_reasons: {no_source_checksum: 1},
      mismatched: [
        {key: 'b', source: 'CRC64NVME FULL_OBJECT AAAAAAAAAAA=', target: 'CRC64NVME FULL_OBJECT BBBBBBBBBBB='},
      ],
      missing: ['d'],
      not_comparable_objects: [{key: 'c', reason: 'no_source_checksum'}],
    })
    expect(deepCheckFailures(checks)).toBe(2)
    const inputs = s3Mock.commandCalls(HeadObjectCommand).map((call) => call.args[0].input)
    expect(inputs).toHaveLength(8)
    for (const input of inputs) {
      expect(input.ChecksumMode).toBe('ENABLED')
      expect(input.VersionId).toBe(`${input.Bucket === 'shared' ? 'sv' : 'tv'}-${input.Key}`)
      if (input.Bucket === 'own') expect(input.ExpectedBucketOwner).toBe(owner)
    }
  })

  it('passes when nothing differs, objects not comparable included (they are counted, not failed)', async () => {
    heads({'shared/a@sv-a': crc('A'), 'own/a@tv-a': crc('A'), 'shared/b@sv-b': {$metadata: {}}, 'own/b@tv-b': crc('B')})
    const checks = await runDeepChecks(sides(), streamOf([pair('a'), pair('b')]), {checksums: true})
    expect(checks.checksums).toMatchObject({result: 'passed', compared: 1, equal: 1, not_comparable: 1})
    expect(deepCheckFailures(checks)).toBe(0)
  })

  it('keeps at most `limit` pairs in flight over a long stream', async () => {
    let inFlight = 0
    let most = 0
    s3Mock.on(HeadObjectCommand).callsFake(async () => {
      inFlight++
      most = Math.max(most, inFlight)
      await new Promise((resolve) => setImmediate(resolve))
      inFlight--
      return crc('A')
    })
    let produced = 0
    async function* many() {
      for (let index = 0; index < 3000; index++) {
        produced++
        yield pair(`k${String(index).padStart(5, '0')}`)
      }
    }
    const checks = await runDeepChecks(sides(), many(), {checksums: true, limit: pLimit(4), window: 16})
    expect(checks.checksums).toMatchObject({objects: 3000, equal: 3000, result: 'passed'})
    expect(produced).toBe(3000)
    // Two reads (source and target) per pair, four pairs at once.
    expect(most).toBeLessThanOrEqual(8)
    expect(most).toBeGreaterThan(2)
  })
})

describe('runDeepChecks --content-sample', () => {
  /** Object bodies by bucket, key and version. */
  function bodies(stored: Record<string, string>): void {
    s3Mock.on(GetObjectCommand).callsFake(async (input) => {
      const body = stored[`${input.Bucket}/${input.Key}@${input.VersionId}`]
      if (body === undefined) throw noSuchVersion()
      return {
        Body: sdkStreamMixin(Readable.from([Buffer.from(body.slice(0, 2)), Buffer.from(body.slice(2))])),
        ETag: '"e"',
      }
    })
  }

  it('downloads both sides of every sampled pair pinned to its versions and compares their SHA-256', async () => {
    bodies({
      'shared/a@sv-a': 'AAAA',
      'own/a@tv-a': 'AAAA',
      'shared/b@sv-b': 'BBBB',
      'own/b@tv-b': 'BBBX',
      'shared/c@sv-c': 'CCCC',
      'own/c@tv-c': 'CCCC',
    })
    const checks = await runDeepChecks(sides(), streamOf(['c', 'a', 'b'].map((key) => pair(key))), {
      contentSample: 5,
      now: () => new Date('2026-02-03T04:05:06Z'),
    })

    expect(checks.checksums).toBeNull()
    expect(checks.content_sample).toEqual({
      result: 'failed',
      checked_at: '2026-02-03T04:05:06.000Z',
      requested: 5,
      population: 3,
      sampled: 3,
      equal: 2,
      mismatches: 1,
      not_compared: 0,
      objects: [
        {
          key: 'a',
          size: 4,
          source_version_id: 'sv-a',
          target_version_id: 'tv-a',
          source_sha256: sha256('AAAA'),
          target_sha256: sha256('AAAA'),
          outcome: 'equal',
        },
        {
          key: 'b',
          size: 4,
          source_version_id: 'sv-b',
          target_version_id: 'tv-b',
          source_sha256: sha256('BBBB'),
          target_sha256: sha256('BBBX'),
          outcome: 'differs',
        },
        {
          key: 'c',
          size: 4,
          source_version_id: 'sv-c',
          target_version_id: 'tv-c',
          source_sha256: sha256('CCCC'),
          target_sha256: sha256('CCCC'),
          outcome: 'equal',
        },
      ],
    })
    for (const call of s3Mock.commandCalls(GetObjectCommand)) {
      const input = call.args[0].input
      expect(input.VersionId).toBe(`${input.Bucket === 'shared' ? 'sv' : 'tv'}-${input.Key}`)
      if (input.Bucket === 'own') expect(input.ExpectedBucketOwner).toBe(owner)
    }
  })

  it('a target version that is gone fails; a source version that is gone (purged) is not compared', async () => {
    bodies({'shared/a@sv-a': 'AAAA', 'own/b@tv-b': 'BBBB'})
    const checks = await runDeepChecks(sides(), streamOf([pair('a'), pair('b')]), {contentSample: 2})
    expect(checks.content_sample).toMatchObject({result: 'failed', mismatches: 1, not_compared: 1, equal: 0})
    expect(checks.content_sample!.objects.map((object) => object.outcome)).toEqual(['target_missing', 'source_gone'])
  })

  it('an unversioned side is read only while it still has the ETag the evidence names', async () => {
    bodies({})
    s3Mock.on(GetObjectCommand).callsFake(async (input) => {
      if (input.VersionId === undefined && input.IfMatch !== '"s"')
        throw new S3ServiceException({
          name: 'PreconditionFailed',
          $fault: 'client',
          $metadata: {httpStatusCode: 412},
          message: 'x',
        })
      return {Body: sdkStreamMixin(Readable.from([Buffer.from('AAAA')]))}
    })
    const checks = await runDeepChecks(sides(), streamOf([pair('a', {source: {etag: '"s"', versionId: 'null'}})]), {
      contentSample: 1,
    })
    expect(checks.content_sample).toMatchObject({result: 'passed', equal: 1})
    const source = s3Mock
      .commandCalls(GetObjectCommand)
      .map((call) => call.args[0].input)
      .find((input) => input.Bucket === 'shared')!
    expect(source).toMatchObject({VersionId: undefined, IfMatch: '"s"'})
  })

  it('draws every object with the same probability (seeded generator)', () => {
    const random = seeded(20260203)
    const population = 20
    const size = 5
    const trials = 20_000
    const chosen = new Array<number>(population).fill(0)
    let malformed = 0
    for (let trial = 0; trial < trials; trial++) {
      const reservoir = new Reservoir<number>(size, random)
      for (let item = 0; item < population; item++) reservoir.offer(item)
      if (reservoir.items.length !== size || new Set(reservoir.items).size !== size) malformed++
      for (const item of reservoir.items) chosen[item]++
    }
    expect(malformed).toBe(0)
    // Each is chosen size/population of the time: 5,000 of 20,000, within 5 %.
    for (const count of chosen) expect(Math.abs(count - (trials * size) / population)).toBeLessThan(250)
    expect(seeded(1)(10)).toBe(seeded(1)(10))
  })

  it('holds the sample and nothing else, however long the stream', () => {
    const reservoir = new Reservoir<string>(5, seeded(7))
    global.gc?.()
    const before = process.memoryUsage().heapUsed
    // 200,000 items of 2 KB: 400 MB if any were kept.
    for (let item = 0; item < 200_000; item++) reservoir.offer(`${item}:${'x'.repeat(2048)}`)
    const grown = process.memoryUsage().heapUsed - before
    expect(reservoir.items).toHaveLength(5)
    expect(reservoir.seen).toBe(200_000)
    expect(grown).toBeLessThan(64 * 1024 * 1024)
  })

  it('keeps every object when N is at least the population (a full comparison)', () => {
    const reservoir = new Reservoir<number>(10, seeded(3))
    for (let item = 0; item < 4; item++) reservoir.offer(item)
    expect([...reservoir.items]).toEqual([0, 1, 2, 3])
  })
})

describe('evidencePairs', () => {
  it('pairs each migrated line with its source and target versions; removed keys are not objects', async () => {
    const line = (key: string, action: EvidenceLine['action']): EvidenceLine => evidenceLine(key, action, {size: 3})
    const pairs = []
    for await (const item of evidencePairs(
      streamOf([line('a', 'copied'), line('b', 'removed'), line('c', 'proven'), line('d', 'late_write')]),
    ))
      pairs.push(item)
    expect(pairs.map((item) => item.key)).toEqual(['a', 'c', 'd'])
    expect(pairs[0]).toEqual({
      key: 'a',
      size: 3,
      source: {etag: '"s"', versionId: 'sv'},
      target: {etag: '"t"', versionId: 'tv'},
    })
  })
})
