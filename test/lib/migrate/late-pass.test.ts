/**
 * The late pass after the switch (sync.ts latePass, used by migrate --execute and --reconcile)
 * never overwrites what the application wrote: its copy is conditional on the migrated target
 * version (If-Match) or on the key being absent (If-None-Match), and a failed target condition
 * is a conflict, not a retry. aws-sdk-client-mock: moto ignores both conditions on CopyObject.
 */
import {CopyObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client} from '@aws-sdk/client-s3'
import {mockClient} from 'aws-sdk-client-mock'
import {beforeEach, describe, expect, it} from 'vitest'

import {LocalCopyEngine} from '../../../src/lib/migrate/copy.js'
import type {EvidenceLine} from '../../../src/lib/migrate/evidence.js'
import {latePass} from '../../../src/lib/migrate/sync.js'
import {accountId, s3Error, testContext} from '../fixtures.js'

const s3Mock = mockClient(S3Client)
const shared = 'platform-shared'
const target = 'metis-af-0a1b2c3d4e5f-123456789012'
const id = 'eng-0a1b2c3d4e5f'
const key = `auditforge/engagements/${id}/audit_log/shard-00003.jsonl`

async function* lines(...items: EvidenceLine[]): AsyncGenerator<EvidenceLine> {
  yield* items
}

function listSource(etag: string, size: number) {
  s3Mock.on(ListObjectsV2Command).resolves({Contents: [], IsTruncated: false})
  s3Mock
    .on(ListObjectsV2Command, {Bucket: shared, Prefix: `auditforge/engagements/${id}/`})
    .resolves({Contents: [{Key: key, Size: size, ETag: etag}], IsTruncated: false})
}

async function runLatePass(evidence: AsyncIterable<EvidenceLine>) {
  const {s3} = testContext()
  const engine = new LocalCopyEngine(s3, {sourceBucket: shared, targetBucket: target, owner: accountId})
  const recorded: EvidenceLine[] = []
  const totals = await latePass(
    {s3, sourceBucket: shared, targetBucket: target, engagementId: id, owner: accountId, evidence},
    {engine, record: async (line) => void recorded.push(line), limit: (task) => task()},
  )
  return {totals, recorded, copies: s3Mock.commandCalls(CopyObjectCommand).map((call) => call.args[0].input)}
}

/** The evidence of the key: copied from source version sv1, written as target version tv1. */
const migrated: EvidenceLine = {
  key,
  size: 10,
  source_etag: '"src-v1"',
  source_version_id: 'sv1',
  target_etag: '"tgt-v1"',
  target_version_id: 'tv1',
  checksum_algorithm: null,
  checksum_type: null,
  checksum_value: null,
  action: 'copied',
}

beforeEach(() => {
  s3Mock.reset()
})

describe('the late pass after the switch never overwrites what the application wrote', () => {
  it('a migrated key: the copy over the migrated target version is conditional on that version (If-Match)', async () => {
    listSource('"src-v2"', 10) // a late write in the shared bucket
    s3Mock.on(HeadObjectCommand, {Bucket: target}).resolves({VersionId: 'tv1', ETag: '"tgt-v1"', ContentLength: 10})
    s3Mock.on(CopyObjectCommand).resolves({VersionId: 'tv2', CopyObjectResult: {ETag: '"src-v2"'}})

    const {copies, recorded} = await runLatePass(lines(migrated))
    expect(copies).toHaveLength(1)
    expect(recorded).toMatchObject([{key, action: 'late_write', target_version_id: 'tv2'}])
    // Without it, an application write landing between the HeadObject and this copy is replaced.
    expect(copies[0].IfMatch, 'CopyObject must be conditional on the migrated target ETag').toBe('"tgt-v1"')
  })

  it('a new key: when the application creates it in the target before the copy lands (412), it is a conflict, not copied over', async () => {
    listSource('"late"', 4)
    // The HeadObject of the late pass: nothing there yet. The engine's re-read after the 412: the application's object.
    s3Mock
      .on(HeadObjectCommand, {Bucket: target})
      .rejectsOnce(s3Error('NotFound', 404))
      .resolves({VersionId: 'app-1', ETag: '"written-by-the-app"', ContentLength: 99})
    s3Mock.on(HeadObjectCommand, {Bucket: shared}).resolves({VersionId: 'sv9', ETag: '"late"', ContentLength: 4})
    s3Mock
      .on(CopyObjectCommand)
      .rejectsOnce(s3Error('PreconditionFailed', 412))
      .resolves({VersionId: 'tv-late', CopyObjectResult: {ETag: '"late"'}})

    const {totals, copies} = await runLatePass(lines())
    expect(copies.map((input) => input.IfNoneMatch)).toEqual(['*'])
    expect(totals).toMatchObject({copied: 0, conflictCount: 1})
  })
})

describe('a late-pass copy whose target condition fails', () => {
  it('a migrated key the application rewrote between the look and the copy (412 on If-Match): a conflict, one copy only', async () => {
    listSource('"src-v2"', 10)
    s3Mock
      .on(HeadObjectCommand, {Bucket: target})
      .resolvesOnce({VersionId: 'tv1', ETag: '"tgt-v1"', ContentLength: 10})
      .resolves({VersionId: 'app-2', ETag: '"app"', ContentLength: 12})
    s3Mock.on(HeadObjectCommand, {Bucket: shared}).resolves({VersionId: 'sv2', ETag: '"src-v2"', ContentLength: 10})
    s3Mock.on(CopyObjectCommand).rejects(s3Error('PreconditionFailed', 412))

    const {totals, copies, recorded} = await runLatePass(lines(migrated))
    expect(copies).toHaveLength(1)
    expect(copies[0].IfMatch).toBe('"tgt-v1"')
    expect(totals).toMatchObject({copied: 0, conflictCount: 1})
    expect(recorded).toEqual([])
  })

  it('a 412 from a source that changed again, the target untouched: retried against the new source, still on the same target condition', async () => {
    listSource('"late-1"', 4)
    s3Mock.on(HeadObjectCommand, {Bucket: target}).rejects(s3Error('NotFound', 404))
    s3Mock.on(HeadObjectCommand, {Bucket: shared}).resolves({VersionId: 'sv3', ETag: '"late-2"', ContentLength: 5})
    s3Mock
      .on(CopyObjectCommand)
      .rejectsOnce(s3Error('PreconditionFailed', 412))
      .resolves({VersionId: 'tv-late', CopyObjectResult: {ETag: '"late-2"'}})

    const {totals, copies, recorded} = await runLatePass(lines())
    expect(copies.map((input) => [input.CopySourceIfMatch, input.IfNoneMatch])).toEqual([
      ['"late-1"', '*'],
      ['"late-2"', '*'],
    ])
    expect(totals).toMatchObject({copied: 1, conflictCount: 0})
    expect(recorded).toMatchObject([{key, action: 'late_write', source_etag: '"late-2"', size: 5}])
  })
})
