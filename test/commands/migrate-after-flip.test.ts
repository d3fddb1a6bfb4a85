/**
 * After the switch, on moto: the evidence is stored before the record flips; `--verify-only`
 * verifies against it (the application's own writes to the engagement's bucket are information,
 * not differences); writes that reach the shared bucket afterwards are late writes that
 * `--reconcile` copies, never over what the application wrote.
 */
import {GetObjectCommand, ListObjectVersionsCommand, PutObjectCommand, type S3Client} from '@aws-sdk/client-s3'
import {beforeAll, describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {putIndex, randomEngagementId, seedRecord} from '../helpers/commands.js'
import type {MigrateJson} from '../helpers/migrate.js'
import {createSharedBucket, getText, motoAccountId, testS3} from '../helpers/s3.js'
import type {VerificationDifference} from '../../src/results/migrate.js'
import {differenceText} from '../../src/ui/migration.js'

let s3: S3Client
beforeAll(() => {
  s3 = testS3()
})

const targetOf = (id: string) => `metis-af-${id.slice('eng-'.length)}-${motoAccountId}`
const key = (id: string, name: string) => `auditforge/engagements/${id}/${name}`
const put = (bucket: string, name: string, body: string) =>
  s3.send(new PutObjectCommand({Bucket: bucket, Key: name, Body: body}))

interface VerifyJson {
  engagements: {
    status: string
    differences: VerificationDifference[]
    changed_since_migration: number
    new_in_target: number
    late_writes: number
    evidence_run: string | null
    reconciled?: number
    conflicts?: string[]
  }[]
  totals: {engagements: number; copied: number}
}

async function migrated() {
  const bucket = await createSharedBucket(s3, 'after-flip')
  const id = randomEngagementId()
  await putIndex(s3, bucket, {engagements: [seedRecord(id)]})
  for (const name of ['findings.json', 'audit_log/shard-00000.jsonl', 'source/a.pdf', 'source/b.pdf'])
    await put(bucket, key(id, name), `${name} v1`)
  const result = await runJson<MigrateJson>([
    'migrate',
    '--engagement-id',
    id,
    '--execute',
    '--yes',
    '--shared-bucket',
    bucket,
  ])
  expect(result.code, result.stderr).toBe(0)
  expect(result.json.engagements[0]).toMatchObject({status: 'migrated', copied: 4})
  return {bucket, id, target: targetOf(id)}
}

describe('after the switch', () => {
  it('stored the verified summary before the record flipped, and `migrate evidence` reads it', async () => {
    const {bucket, id, target} = await migrated()
    const prefix = `auditforge/migrations/${id}/`
    const summaries = await s3.send(new ListObjectVersionsCommand({Bucket: target, Prefix: prefix}))
    const versions = (summaries.Versions ?? []).filter((version) => version.Key!.endsWith('/summary.json'))
    // Two versions of the run's summary: before the flip, and completed after it.
    expect(versions).toHaveLength(2)
    // A key's versions are listed newest first (their times may share a second).
    const oldest = versions.at(-1)!
    const before = JSON.parse(
      await (
        await s3.send(new GetObjectCommand({Bucket: target, Key: oldest.Key, VersionId: oldest.VersionId}))
      ).Body!.transformToString(),
    )
    expect(before).toMatchObject({
      verification: {result: 'passed', differences: 0},
      flipped_at: null,
      objects: 4,
      copied: 4,
    })
    const index = await s3.send(new ListObjectVersionsCommand({Bucket: bucket, Prefix: 'auditforge/engagements.json'}))
    const flip = (index.Versions ?? []).find((version) => version.IsLatest)!
    expect(oldest.LastModified!.getTime()).toBeLessThanOrEqual(flip.LastModified!.getTime())

    const evidence = await runJson<{
      summary: {flipped_at: string; index_etag_after: string; verification: {result: string}}
    }>(['migrate', 'evidence', id, '--shared-bucket', bucket])
    expect(evidence.code, evidence.stderr).toBe(0)
    expect(evidence.json.summary.verification.result).toBe('passed')
    expect(evidence.json.summary.index_etag_after).toBe(flip.ETag)
  })

  it('--verify-only passes after the application wrote new shards, exports and findings into the engagement bucket', async () => {
    const {bucket, id, target} = await migrated()
    await put(target, key(id, 'audit_log/shard-00001.jsonl'), 'new shard')
    await put(target, `auditforge/exports/${id}-20260101T000000.000Z-abcdef.jsonl`, 'an export')
    await put(target, key(id, 'findings.json'), 'findings, edited in the app')
    const result = await runJson<VerifyJson>([
      'migrate',
      '--engagement-id',
      id,
      '--verify-only',
      '--shared-bucket',
      bucket,
    ])
    expect(result.code, result.stderr).toBe(0)
    expect(result.json.engagements[0]).toMatchObject({
      status: 'verified',
      changed_since_migration: 1,
      new_in_target: 2,
      late_writes: 0,
    })
    expect(result.json.engagements[0].evidence_run).toMatch(/^\d{8}T/)
  })

  it('reports late writes with the command that reconciles them; --reconcile copies them, never over the application', async () => {
    const {bucket, id, target} = await migrated()
    // Late writes to the shared bucket: one changed key, one new key, and one the application has also written.
    await put(bucket, key(id, 'source/a.pdf'), 'source/a.pdf v2 (late)')
    await put(bucket, key(id, 'source/c.pdf'), 'source/c.pdf (new, late)')
    await put(bucket, key(id, 'findings.json'), 'findings v2 (late)')
    await put(target, key(id, 'findings.json'), 'findings, edited in the app')

    const verify = await runJson<VerifyJson>([
      'migrate',
      '--engagement-id',
      id,
      '--verify-only',
      '--shared-bucket',
      bucket,
    ])
    expect(verify.code).toBe(4)
    expect(verify.json.engagements[0].late_writes).toBe(3)
    expect(verify.json.engagements[0].differences.map((difference) => differenceText(difference)).join('\n')).toContain(
      `migrate --reconcile --engagement-id ${id}`,
    )
    expect(verify.json.engagements[0].differences.every((difference) => difference.kind === 'late_write')).toBe(true)

    const refused = await runCli(['migrate', '--engagement-id', id, '--reconcile', '--shared-bucket', bucket])
    expect(refused.code).toBe(5)
    const reconciled = await runJson<VerifyJson>([
      'migrate',
      '--engagement-id',
      id,
      '--reconcile',
      '--yes',
      '--shared-bucket',
      bucket,
    ])
    expect(reconciled.json.engagements[0]).toMatchObject({reconciled: 2, conflicts: [key(id, 'findings.json')]})
    // The late writes copied now are the run's copies.
    expect(reconciled.json.totals).toMatchObject({engagements: 1, copied: 2})
    expect(await getText(s3, target, key(id, 'source/a.pdf'))).toBe('source/a.pdf v2 (late)')
    expect(await getText(s3, target, key(id, 'source/c.pdf'))).toBe('source/c.pdf (new, late)')
    expect(await getText(s3, target, key(id, 'findings.json'))).toBe('findings, edited in the app')
    // Only the conflict is left to the operator.
    expect(reconciled.code).toBe(4)
    expect(reconciled.json.engagements[0].late_writes).toBe(1)
  })
})
