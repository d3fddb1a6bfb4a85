/**
 * The evidence manifest on moto: written chunk by chunk in key order, read back merged across
 * segments and runs with the newest line winning, and summaries kept per run.
 */
import {ListObjectsV2Command} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {migrationKeys} from '../../../src/lib/layout.js'
import {
  type EvidenceLine,
  EvidenceWriter,
  readEvidence,
  readSummaries,
  segmentName,
  writeSummary,
} from '../../../src/lib/migrate/evidence.js'
import {Cursor, orderedMap} from '../../../src/lib/migrate/streams.js'
import {compareKeys} from '../../../src/lib/s3/index.js'
import {createSharedBucket, motoAccountId, testS3} from '../../helpers/s3.js'

const engagementId = 'eng-0a1b2c3d4e5f'

function line(key: string, action: EvidenceLine['action'] = 'copied', version = 'v1'): EvidenceLine {
  return {
    key,
    size: key.length,
    source_etag: '"s"',
    source_version_id: 'sv',
    target_etag: '"t"',
    target_version_id: version,
    checksum_algorithm: 'CRC64NVME',
    checksum_type: 'FULL_OBJECT',
    checksum_value: 'AAAAAAAAAAA=',
    action,
  }
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  for await (const item of iterable) items.push(item)
  return items
}

describe('evidence', () => {
  it('writes chunks in key order, refuses lines out of order, and merges segments and runs (newest line wins)', async () => {
    const s3 = testS3()
    const bucket = await createSharedBucket(s3, 'evidence')
    const location = {bucket, expectedOwner: motoAccountId, engagementId}
    const first = migrationKeys.newRunId(new Date(Date.UTC(2026, 0, 1)), '000001')
    const second = migrationKeys.newRunId(new Date(Date.UTC(2026, 0, 2)), '000002')

    const keys = Array.from(
      {length: 25},
      (_, i) => `auditforge/engagements/${engagementId}/source/f-${String(i).padStart(3, '0')}`,
    )
    const writer = new EvidenceWriter(s3, location, first, segmentName(1, 'copy'), 10)
    for (const key of keys) await writer.append(line(key))
    await expect(writer.append(line(keys[3]))).rejects.toThrow(/out of order/)
    expect(await writer.finish()).toEqual({lines: 25, chunks: 3})

    // The same run's second pass re-copies two keys; a later run removes one.
    const pass2 = new EvidenceWriter(s3, location, first, segmentName(2, 'copy'), 10)
    await pass2.append(line(keys[4], 'copied', 'v2'))
    await pass2.append(line(keys[20], 'copied', 'v2'))
    await pass2.finish()
    const later = new EvidenceWriter(s3, location, second, segmentName(1, 'copy'), 10)
    await later.append(line(keys[20], 'removed', 'v3'))
    await later.finish()

    const merged = await collect(readEvidence(s3, location))
    expect(merged.map((entry) => entry.key)).toEqual(keys)
    expect(merged[4].target_version_id).toBe('v2')
    expect(merged[20]).toMatchObject({action: 'removed', target_version_id: 'v3'})
    expect(merged[0].target_version_id).toBe('v1')

    const listed = await s3.send(new ListObjectsV2Command({Bucket: bucket, Prefix: migrationKeys.prefix(engagementId)}))
    expect(listed.Contents?.map((object) => object.Key)).toContain(
      migrationKeys.chunk(engagementId, first, segmentName(1, 'copy'), 3),
    )
  })

  it('keeps one summary per run, read back oldest first', async () => {
    const s3 = testS3()
    const bucket = await createSharedBucket(s3, 'evidence')
    const location = {bucket, expectedOwner: motoAccountId, engagementId}
    const base = {
      engagement_id: engagementId,
      tool_version: '0.0.0',
      operator_arn: 'arn',
      source_bucket: 's',
      target_bucket: bucket,
      started_at: 'x',
      finished_at: null,
      objects: 1,
      bytes: 1,
      copied: 1,
      proven: 0,
      removed: 0,
      verification: {result: 'passed' as const, checked_at: 'x', differences: 0},
      index_etag_before: null,
      index_etag_after: null,
      flipped_at: null,
      late_writes: 0,
      late_write_conflicts: 0,
      segments: [],
    }
    const [a, b] = ['000001', '000002'].map((token, i) =>
      migrationKeys.newRunId(new Date(Date.UTC(2026, 0, 1 + i)), token),
    )
    await writeSummary(s3, location, {...base, run_id: b})
    await writeSummary(s3, location, {...base, run_id: a})
    expect((await readSummaries(s3, location)).map((summary) => summary.run_id)).toEqual([a, b])
  })
})

describe('stream tools', () => {
  it('orderedMap emits in input order, bounds the window, and raises the first failure after settling', async () => {
    let running = 0
    let peak = 0
    const emitted: number[] = []
    const limit = <V>(task: () => Promise<V>) => task()
    async function* numbers(count: number) {
      for (let i = 0; i < count; i++) yield i
    }
    await orderedMap(
      numbers(200),
      async (n) => {
        running++
        peak = Math.max(peak, running)
        await new Promise((resolve) => setTimeout(resolve, (n * 7) % 5))
        running--
        return n
      },
      (n) => {
        emitted.push(n)
      },
      {window: 16, limit},
    )
    expect(emitted).toEqual(Array.from({length: 200}, (_, i) => i))
    expect(peak).toBeLessThanOrEqual(16)

    const seen: number[] = []
    await expect(
      orderedMap(
        numbers(100),
        async (n) => {
          if (n === 10) throw new Error('boom at 10')
          return n
        },
        (n) => {
          seen.push(n)
        },
        {window: 4, limit},
      ),
    ).rejects.toThrow('boom at 10')
    // Everything that succeeded is still handed on, in order; 10 is not; nothing new starts after it.
    expect(seen.slice(0, 10)).toEqual(Array.from({length: 10}, (_, i) => i))
    expect(seen).not.toContain(10)
    expect(seen).toEqual([...seen].sort((a, b) => a - b))
    expect(seen.length).toBeLessThan(100 - 1)
  })

  it('a cursor peeks without taking, and compareKeys is S3 (UTF-8) order', async () => {
    const cursor = new Cursor(
      (async function* () {
        yield* ['a', 'b', 'c']
      })(),
    )
    expect(await cursor.peek()).toBe('a')
    expect(await cursor.skipWhile((item) => item < 'c')).toBe('c')
    expect(await cursor.take()).toBe('c')
    expect(await cursor.take()).toBeUndefined()
    // In UTF-16 code units U+1F600 (a surrogate pair, D83D…) sorts before U+FF5E; in UTF-8 bytes (F0… vs EF…) after it.
    const keys = ['k/\u{1F600}', 'k/\uFF5E', 'k/z', 'k/A']
    expect([...keys].sort(compareKeys)).toEqual(['k/A', 'k/z', 'k/\uFF5E', 'k/\u{1F600}'])
    expect([...keys].sort()).not.toEqual([...keys].sort(compareKeys))
  })
})
