/**
 * The merge-join pass on moto: copy mode brings the target to the source and records evidence;
 * check mode (the verification before the flip) passes only when every key is proven by its
 * identity, never by size. A simple pinned CopyObject stands in for the copy engine.
 */
import {
  CopyObjectCommand,
  CreateBucketCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {migrationKeys} from '../../../src/lib/layout.js'
import type {CopyEngine} from '../../../src/lib/migrate/engine.js'
import {EvidenceWriter, readEvidence, segmentName} from '../../../src/lib/migrate/evidence.js'
import {type SyncSides, checkPass, copyPass} from '../../../src/lib/migrate/sync.js'
import {checksumOf} from '../../../src/lib/s3/index.js'
import {listAllVersions} from '../../helpers/commands.js'
import {createSharedBucket, getText, motoAccountId, testS3, uniqueName} from '../../helpers/s3.js'

const id = 'eng-5ca1ab1e0001'
const key = (name: string) => `auditforge/engagements/${id}/source/${name}`

function pinnedCopy(s3: S3Client, source: string, target: string): CopyEngine & {copies: string[]} {
  const copies: string[] = []
  return {
    copies,
    async copy({source: object}) {
      copies.push(object.key)
      const version =
        object.versionId && object.versionId !== 'null' ? `?versionId=${encodeURIComponent(object.versionId)}` : ''
      const reply = await s3.send(
        new CopyObjectCommand({
          Bucket: target,
          Key: object.key,
          CopySource: `${source}/${encodeURIComponent(object.key).replace(/%2F/g, '/')}${version}`,
          ChecksumAlgorithm: 'CRC64NVME',
        }),
      )
      return {
        source: object,
        target: {
          etag: reply.CopyObjectResult?.ETag ?? null,
          versionId: reply.VersionId ?? null,
          checksum: checksumOf(reply.CopyObjectResult),
        },
      }
    },
  }
}

async function setUp() {
  const s3 = testS3()
  const source = await createSharedBucket(s3, 'sync-src')
  const target = uniqueName('sync-dst')
  await s3.send(new CreateBucketCommand({Bucket: target}))
  await s3.send(new PutBucketVersioningCommand({Bucket: target, VersioningConfiguration: {Status: 'Enabled'}}))
  const location = {bucket: target, expectedOwner: motoAccountId, engagementId: id}
  const sides = (): SyncSides => ({
    s3,
    sourceBucket: source,
    targetBucket: target,
    engagementId: id,
    owner: motoAccountId,
    evidence: readEvidence(s3, location),
  })
  let runs = 0
  /** One copy pass as a run of its own, its evidence written as it goes. */
  const copy = async (engine: CopyEngine) => {
    const writer = new EvidenceWriter(
      s3,
      location,
      migrationKeys.newRunId(new Date(Date.UTC(2026, 0, 1, 0, 0, ++runs))),
      segmentName(1, 'copy'),
      3,
    )
    const totals = await copyPass(sides(), {
      engine,
      record: (line) => writer.append(line),
      recordProven: true,
      limit: (task) => task(),
      window: 4,
    })
    await writer.finish()
    return totals
  }
  return {s3, source, target, sides, copy, engine: () => pinnedCopy(s3, source, target)}
}

const put = (s3: S3Client, bucket: string, name: string, body: string) =>
  s3.send(new PutObjectCommand({Bucket: bucket, Key: key(name), Body: body}))

describe('copy and check passes', () => {
  it('copies everything once, records it, verifies it, and proves it on a re-run without copying', async () => {
    const {s3, source, copy, sides, engine} = await setUp()
    for (const name of ['a.txt', 'b c.txt', 'd+e.txt', 'ü.txt', 'z.txt']) await put(s3, source, name, `body of ${name}`)
    const first = engine()
    const totals = await copy(first)
    expect(totals).toMatchObject({objects: 5, copied: 5, proven: 0, removed: 0, differenceCount: 0})
    expect(first.copies).toHaveLength(5)
    const check = await checkPass(sides())
    expect(check).toMatchObject({objects: 5, differenceCount: 0})

    const second = engine()
    expect(await copy(second)).toMatchObject({objects: 5, copied: 0, proven: 5})
    expect(second.copies).toEqual([])
    const lines = []
    for await (const entry of sides().evidence) lines.push(entry)
    expect(lines.map((entry) => entry.key)).toHaveLength(5)
    expect(lines.every((entry) => entry.target_version_id && entry.source_etag)).toBe(true)
  })

  it('never accepts a same-size target object on size: a stale multipart-ETag copy is copied again', async () => {
    const {s3, source, target, copy, sides, engine} = await setUp()
    await put(s3, source, 'big.bin', 'NEW-CONTENT')
    // Pre-filled target (an interrupted run, an older tool): same size, other bytes, no evidence.
    await put(s3, target, 'big.bin', 'OLD-CONTENT')
    expect((await checkPass(sides())).differences).toEqual([expect.objectContaining({kind: 'not_the_copied_version'})])
    const run = engine()
    expect(await copy(run)).toMatchObject({copied: 1, proven: 0})
    expect(await getText(s3, target, key('big.bin'))).toBe('NEW-CONTENT')
    expect((await checkPass(sides())).differenceCount).toBe(0)
  })

  it('check fails when the target moved on or the source changed after the copy', async () => {
    const {s3, source, target, copy, sides, engine} = await setUp()
    await put(s3, source, 'a.txt', 'one')
    await put(s3, source, 'b.txt', 'two')
    await copy(engine())
    await put(s3, target, 'a.txt', 'ONE') // same size, not what the copy wrote
    await put(s3, source, 'b.txt', 'two, changed')
    const check = await checkPass(sides())
    expect(check.differences.map((difference) => [difference.key, difference.kind])).toEqual([
      [key('a.txt'), 'not_the_copied_version'],
      [key('b.txt'), 'changed_in_source'],
    ])
    // Another copy pass repairs both.
    await copy(engine())
    expect((await checkPass(sides())).differenceCount).toBe(0)
  })

  it('removes from the target what left the source (a delete marker, history kept), and records it', async () => {
    const {s3, source, target, copy, sides, engine} = await setUp()
    await put(s3, source, 'keep.txt', 'k')
    await put(s3, source, 'gone.txt', 'g')
    await copy(engine())
    await s3.send(new PutObjectCommand({Bucket: target, Key: key('stray.txt'), Body: 's'}))
    const {DeleteObjectCommand} = await import('@aws-sdk/client-s3')
    await s3.send(new DeleteObjectCommand({Bucket: source, Key: key('gone.txt')}))
    const totals = await copy(engine())
    expect(totals).toMatchObject({objects: 1, removed: 2, copied: 0, proven: 1})
    expect((await checkPass(sides())).differenceCount).toBe(0)
    const versions = await listAllVersions(s3, target, key('gone.txt'))
    expect(versions.some((version) => version.deleteMarker)).toBe(true)
    expect(versions.some((version) => !version.deleteMarker)).toBe(true)
  })
})
