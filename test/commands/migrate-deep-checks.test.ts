/**
 * `migrate --checksums` and `--content-sample N` on moto, through the built CLI: recorded in the
 * run's summary on --execute and as a verification record on --verify-only, read back by
 * `migrate evidence`; a target version whose bytes are not the source's is caught by both; a
 * migration without evidence accepts nothing on its size. State is checked with the SDK.
 *
 * What moto does with checksums (moto 5): a plain PutObject stores none; CopyObject with
 * ChecksumAlgorithm CRC64NVME stores a value moto computes itself (a CRC32 under that name), so
 * an object whose checksum moto computed compares equal after moto copies it, as real S3's
 * CRC64NVMEs do, while an SDK-computed CRC64NVME would not match moto's copy. The sources that
 * carry a checksum here are therefore put through such a copy; the others carry none and are
 * "not comparable". Composite checksums and SSE-KMS ETags are covered by the unit tests.
 */
import {createHash} from 'node:crypto'

import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import {beforeAll, describe, expect, it} from 'vitest'

import {migrationKeys} from '../../src/lib/layout.js'
import {runCli, runJson} from '../helpers/cli.js'
import {makeManagedBucket, putIndex, randomEngagementId, seedRecord} from '../helpers/commands.js'
import type {MigrateJson} from '../helpers/migrate.js'
import {createSharedBucket, getText, motoAccountId, testS3, uniqueName} from '../helpers/s3.js'
import type {VerificationDifference} from '../../src/results/migrate.js'
import {differenceText} from '../../src/ui/migration.js'

let s3: S3Client
let staging: string
beforeAll(async () => {
  s3 = testS3()
  staging = uniqueName('staging')
  await s3.send(new CreateBucketCommand({Bucket: staging}))
})

const sha256 = (body: string | Buffer) => createHash('sha256').update(body).digest('hex')
const key = (id: string, name: string) => `auditforge/engagements/${id}/${name}`
const targetOf = (id: string) => `metis-af-${id.slice('eng-'.length)}-${motoAccountId}`

/** Writes `body` at `bucket/name` through a copy that asks for a CRC64NVME: moto then stores one. */
async function putWithChecksum(
  bucket: string,
  name: string,
  body: string,
): Promise<{VersionId?: string; ETag?: string}> {
  const scratch = uniqueName('scratch')
  await s3.send(new PutObjectCommand({Bucket: staging, Key: scratch, Body: body}))
  const reply = await s3.send(
    new CopyObjectCommand({
      Bucket: bucket,
      Key: name,
      CopySource: `${staging}/${scratch}`,
      ChecksumAlgorithm: 'CRC64NVME',
    }),
  )
  return {VersionId: reply.VersionId, ETag: reply.CopyObjectResult?.ETag}
}

interface DeepChecksJson {
  checksums: {
    result: string
    objects: number
    compared: number
    equal: number
    mismatches: number
    not_comparable: number
    not_comparable_reasons: Record<string, number>
    mismatched: {key: string}[]
  } | null
  content_sample: {
    result: string
    requested: number
    population: number
    sampled: number
    equal: number
    mismatches: number
    objects: {key: string; source_sha256: string; target_sha256: string; outcome: string}[]
  } | null
}

interface VerifyJson {
  engagements: {
    status: string
    differences: VerificationDifference[]
    unproven: number
    suggestion: string | null
    deep_checks: DeepChecksJson | null
    verification_record: string | null
  }[]
}

interface EvidenceJson {
  summary: {deep_checks: DeepChecksJson | null; verification: {result: string}}
  verification_record: {
    result: string
    evidence_run: string | null
    differences: number
    deep_checks: DeepChecksJson
  } | null
}

const bodies: Record<string, string> = {
  'findings.json': '{"findings":[]}',
  'audit_log/shard-00000.jsonl': '{"event":"engagement.created"}\n',
  'source/contract.pdf': 'contract bytes, version one',
  'source/ledger.csv': 'date,amount\n2026-01-01,100\n',
  'index/chunks/0001.json': '{"chunk":1}',
}
/** The sources with a checksum moto computed; the other two have none. */
const withChecksum = ['source/contract.pdf', 'source/ledger.csv', 'index/chunks/0001.json']

/** An engagement of five objects migrated with both deep checks. */
async function migrated() {
  const shared = await createSharedBucket(s3, 'deep')
  const id = randomEngagementId()
  await putIndex(s3, shared, {engagements: [seedRecord(id)]})
  for (const [name, body] of Object.entries(bodies)) {
    if (withChecksum.includes(name)) await putWithChecksum(shared, key(id, name), body)
    else await s3.send(new PutObjectCommand({Bucket: shared, Key: key(id, name), Body: body}))
  }
  const result = await runJson<MigrateJson & {engagements: {deep_checks: DeepChecksJson}[]}>([
    'migrate',
    '--engagement-id',
    id,
    '--execute',
    '--yes',
    '--checksums',
    '--content-sample',
    '5',
    '--shared-bucket',
    shared,
  ])
  return {shared, id, target: targetOf(id), result}
}

/** An engagement's differences as the text view prints them. */
const texts = (outcome: {differences: VerificationDifference[]}) =>
  outcome.differences.map((difference) => differenceText(difference))

describe('deep checks on --execute', () => {
  it('compares checksums and a content sample before the flip, and records both in the summary', async () => {
    const {shared, id, target, result} = await migrated()
    expect(result.code, result.stderr).toBe(0)
    const [outcome] = result.json.engagements
    expect(outcome).toMatchObject({status: 'migrated', copied: 5})
    expect(outcome.deep_checks.checksums).toMatchObject({
      result: 'passed',
      objects: 5,
      compared: 3,
      equal: 3,
      mismatches: 0,
      not_comparable: 2,
      not_comparable_reasons: {no_source_checksum: 2},
    })
    const sample = outcome.deep_checks.content_sample!
    expect(sample).toMatchObject({result: 'passed', requested: 5, population: 5, sampled: 5, equal: 5, mismatches: 0})
    // The digests are of the bytes, computed here independently.
    expect(sample.objects.map((object) => [object.key, object.source_sha256, object.target_sha256]).sort()).toEqual(
      Object.entries(bodies)
        .map(([name, body]) => [key(id, name), sha256(body), sha256(body)])
        .sort(),
    )
    expect(await getText(s3, target, key(id, 'source/contract.pdf'))).toBe(bodies['source/contract.pdf'])

    const evidence = await runJson<EvidenceJson>(['migrate', 'evidence', id, '--shared-bucket', shared])
    expect(evidence.code, evidence.stderr).toBe(0)
    expect(evidence.json.summary.deep_checks).toEqual(outcome.deep_checks)
    expect(evidence.json.verification_record).toBeNull()
    const text = await runCli(['migrate', 'evidence', id, '--shared-bucket', shared])
    expect(text.stdout).toContain(
      'Deep checks:   checksums passed: 5 objects, 3 compared (3 equal, 0 differ), 2 not comparable (no source checksum: 2)',
    )
    expect(text.stdout).toMatch(
      /\n {15}content sample passed: 5 of 5 objects \(5 asked\), SHA-256 equal on 5, 0 differ\n/,
    )
    expect(text.stdout).toContain('Last verified: no verification record')
  })

  it('says on stderr what the checks found and what proves objects a checksum cannot', async () => {
    const shared = await createSharedBucket(s3, 'deep-text')
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    await s3.send(new PutObjectCommand({Bucket: shared, Key: key(id, 'findings.json'), Body: '{}'}))
    const result = await runCli([
      'migrate',
      '--engagement-id',
      id,
      '--execute',
      '--yes',
      '--checksums',
      '--shared-bucket',
      shared,
    ])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toContain(
      `${id}: checksums passed: 1 object, 0 compared (0 equal, 0 differ), 1 not comparable (no source checksum: 1)`,
    )
    expect(result.stderr).toContain(
      `${id}: objects not comparable by checksum rest on identity verification; only their bytes prove their content: --content-sample N`,
    )
  })
})

describe('deep checks on --verify-only', () => {
  it('pass after a migration and are stored as a verification record that `migrate evidence` shows', async () => {
    const {shared, id, target} = await migrated()
    const verify = await runJson<VerifyJson>([
      'migrate',
      '--engagement-id',
      id,
      '--verify-only',
      '--checksums',
      '--content-sample',
      '5',
      '--shared-bucket',
      shared,
    ])
    expect(verify.code, verify.stderr).toBe(0)
    const [outcome] = verify.json.engagements
    expect(outcome).toMatchObject({status: 'verified', differences: [], unproven: 0})
    expect(outcome.deep_checks!.checksums).toMatchObject({result: 'passed', compared: 3, equal: 3, not_comparable: 2})
    expect(outcome.deep_checks!.content_sample).toMatchObject({result: 'passed', sampled: 5, equal: 5})

    // The record, read straight from the bucket.
    const listed = await s3.send(
      new ListObjectsV2Command({Bucket: target, Prefix: migrationKeys.verificationsPrefix(id)}),
    )
    expect((listed.Contents ?? []).map((object) => object.Key)).toEqual([outcome.verification_record])
    const stored = JSON.parse(await getText(s3, target, outcome.verification_record!))
    expect(stored).toMatchObject({
      engagement_id: id,
      result: 'passed',
      differences: 0,
      source_bucket: shared,
      target_bucket: target,
      evidence_run: expect.stringMatching(/^\d{8}T/),
    })
    expect(stored.deep_checks).toEqual(outcome.deep_checks)

    const evidence = await runJson<EvidenceJson>(['migrate', 'evidence', id, '--shared-bucket', shared])
    expect(evidence.json.verification_record).toEqual(stored)
    const markdown = await runCli(['migrate', 'evidence', id, '--format', 'md', '--shared-bucket', shared])
    expect(markdown.stdout).toContain('## Content sample')
    expect(markdown.stdout).toContain(
      `| ${sha256(bodies['findings.json'])} | ${sha256(bodies['findings.json'])} | equal |`,
    )
  })

  it("catch a target version whose bytes are not the source's, which identity verification cannot see", async () => {
    const {shared, id, target} = await migrated()
    // What a copy that landed other bytes would leave: a version of the same size with other
    // bytes (and the checksum S3 computed for them) in the engagement bucket, and evidence that
    // names that version as the copy. Versions are immutable, so this is the one way it happens.
    const name = key(id, 'source/contract.pdf')
    const original = bodies['source/contract.pdf']
    const other = original.replace('one', 'two')
    expect(other).toHaveLength(original.length)
    const landed = await putWithChecksum(target, name, other)
    const runId = migrationKeys.newRunId(new Date(Date.now() + 60_000))
    const source = await s3.send(new HeadObjectCommand({Bucket: shared, Key: name}))
    const line = {
      key: name,
      size: original.length,
      source_etag: source.ETag,
      source_version_id: source.VersionId,
      target_etag: landed.ETag,
      target_version_id: landed.VersionId,
      checksum_algorithm: null,
      checksum_type: null,
      checksum_value: null,
      action: 'copied',
    }
    await s3.send(
      new PutObjectCommand({
        Bucket: target,
        Key: migrationKeys.chunk(id, runId, 's001-copy', 1),
        Body: `${JSON.stringify(line)}\n`,
      }),
    )

    const identity = await runJson<VerifyJson>([
      'migrate',
      '--engagement-id',
      id,
      '--verify-only',
      '--shared-bucket',
      shared,
    ])
    expect(identity.code, identity.stderr).toBe(0)

    const checksums = await runJson<VerifyJson>([
      'migrate',
      '--engagement-id',
      id,
      '--verify-only',
      '--checksums',
      '--shared-bucket',
      shared,
    ])
    expect(checksums.code, checksums.stderr).toBe(4)
    expect(texts(checksums.json.engagements[0])).toEqual([
      expect.stringMatching(
        new RegExp(`^checksum differs: ${name.replace(/[.]/g, '\\.')} \\(source CRC64NVME .+, target CRC64NVME .+\\)$`),
      ),
    ])
    expect(checksums.json.engagements[0].deep_checks!.checksums).toMatchObject({
      result: 'failed',
      mismatches: 1,
      equal: 2,
    })

    const sample = await runJson<VerifyJson>([
      'migrate',
      '--engagement-id',
      id,
      '--verify-only',
      '--content-sample',
      '5',
      '--shared-bucket',
      shared,
    ])
    expect(sample.code, sample.stderr).toBe(4)
    expect(texts(sample.json.engagements[0])).toEqual([
      `content differs: ${name} (SHA-256 source ${sha256(original)}, target ${sha256(other)})`,
    ])
    expect(sample.json.engagements[0].differences).toEqual([
      {
        key: name,
        kind: 'content_differs',
        source: `SHA-256 ${sha256(original)}`,
        target: `SHA-256 ${sha256(other)}`,
        detail: `SHA-256 source ${sha256(original)}, target ${sha256(other)}`,
      },
    ])
    expect(sample.stderr).toContain('failed verification')

    const evidence = await runJson<EvidenceJson>(['migrate', 'evidence', id, '--shared-bucket', shared])
    expect(evidence.json.verification_record).toMatchObject({
      result: 'failed',
      differences: 1,
      deep_checks: {checksums: null, content_sample: {mismatches: 1}},
    })
    const records = await s3.send(
      new ListObjectsV2Command({Bucket: target, Prefix: migrationKeys.verificationsPrefix(id)}),
    )
    expect(records.Contents).toHaveLength(2)
  })
})

describe('a migration without evidence', () => {
  const MiB = 1024 * 1024

  /** A two-part upload whose full-object CRC64NVME moto computes: a multipart ETag ("…-2"). */
  async function putMultipart(bucket: string, name: string, fill: string): Promise<void> {
    const upload = await s3.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: name,
        ChecksumAlgorithm: 'CRC64NVME',
        ChecksumType: 'FULL_OBJECT',
      }),
    )
    const parts = [Buffer.alloc(5 * MiB, fill), Buffer.from('tail')]
    const done = []
    for (const [index, body] of parts.entries()) {
      const part = await s3.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: name,
          UploadId: upload.UploadId,
          PartNumber: index + 1,
          Body: body,
          ChecksumAlgorithm: 'CRC64NVME',
        }),
      )
      done.push({PartNumber: index + 1, ETag: part.ETag, ChecksumCRC64NVME: part.ChecksumCRC64NVME})
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: name,
        UploadId: upload.UploadId,
        MultipartUpload: {Parts: done},
      }),
    )
  }

  it('accepts nothing on its size: a same-size multipart object with other bytes fails, proven wrong by checksums or bytes', async () => {
    const shared = await createSharedBucket(s3, 'legacy')
    const id = randomEngagementId()
    const target = await makeManagedBucket(s3, id, shared)
    await putIndex(s3, shared, {engagements: [seedRecord(id, {source_bucket: target})]})
    const [findings, same, stale] = [key(id, 'findings.json'), key(id, 'source/same.bin'), key(id, 'source/stale.bin')]
    for (const bucket of [shared, target])
      await s3.send(new PutObjectCommand({Bucket: bucket, Key: findings, Body: '{"findings":[]}'}))
    await putMultipart(shared, same, 'a')
    await putMultipart(target, same, 'a')
    await putMultipart(shared, stale, 'a')
    await putMultipart(target, stale, 'b')
    const env = {AUDITFORGE_BUCKET: shared}

    // Identity alone: both multipart objects are unproven (once, the stale one passed on its size).
    const plain = await runJson<VerifyJson>(['migrate', '--engagement-id', id, '--verify-only'], {env})
    expect(plain.code, plain.stderr).toBe(4)
    const [outcome] = plain.json.engagements
    expect(outcome.unproven).toBe(2)
    expect(texts(outcome)).toEqual([
      `unproven: ${same} (same size; a multipart ETag is not an MD5 of the bytes)`,
      `unproven: ${stale} (same size; a multipart ETag is not an MD5 of the bytes)`,
    ])
    expect(outcome.suggestion).toContain(`auditforge migrate --verify-only --engagement-id ${id} --checksums`)
    expect(outcome.verification_record).toBeNull()
    const text = await runCli(['migrate', '--engagement-id', id, '--verify-only'], {env})
    expect(text.code).toBe(4)
    expect(text.stderr).toContain(`  unproven: ${stale} (same size; a multipart ETag is not an MD5 of the bytes)`)
    expect(text.stderr).toContain(
      `${id}: 2 objects are not proven by MD5 ETags (multipart or SSE-KMS) and size alone proves nothing.`,
    )

    // The stored checksums prove the one and disprove the other.
    const checksums = await runJson<VerifyJson>(['migrate', '--engagement-id', id, '--verify-only', '--checksums'], {
      env,
    })
    expect(checksums.code, checksums.stderr).toBe(4)
    expect(checksums.json.engagements[0]).toMatchObject({unproven: 0, suggestion: null})
    expect(texts(checksums.json.engagements[0])).toEqual([
      expect.stringMatching(
        new RegExp(
          `^checksum differs: ${stale.replace(/[.]/g, '\\.')} \\(source CRC64NVME .+, target CRC64NVME .+\\)$`,
        ),
      ),
    ])

    // So do the bytes, every object drawn.
    const sample = await runJson<VerifyJson>(
      ['migrate', '--engagement-id', id, '--verify-only', '--content-sample', '3'],
      {env},
    )
    expect(sample.code, sample.stderr).toBe(4)
    const expectedSha = (fill: string) => sha256(Buffer.concat([Buffer.alloc(5 * MiB, fill), Buffer.from('tail')]))
    expect(sample.json.engagements[0]).toMatchObject({unproven: 0})
    expect(texts(sample.json.engagements[0])).toEqual([
      `content differs: ${stale} (SHA-256 source ${expectedSha('a')}, target ${expectedSha('b')})`,
    ])

    // With the target put right, the same checks pass.
    await putMultipart(target, stale, 'a')
    const fixed = await runJson<VerifyJson>(['migrate', '--engagement-id', id, '--verify-only', '--checksums'], {env})
    expect(fixed.code, fixed.stderr).toBe(0)
    expect(fixed.json.engagements[0]).toMatchObject({status: 'verified', unproven: 0, differences: []})
    const record = JSON.parse(await getText(s3, target, fixed.json.engagements[0].verification_record!))
    expect(record).toMatchObject({
      evidence_run: null,
      result: 'passed',
      deep_checks: {checksums: {compared: 2, equal: 2}},
    })
    // Verification wrote nothing but its records: one per run with a deep check.
    const written = await s3.send(new ListObjectsV2Command({Bucket: target, Prefix: 'auditforge/migrations/'}))
    expect(
      (written.Contents ?? []).map((object) => object.Key!.startsWith(migrationKeys.verificationsPrefix(id))),
    ).toEqual([true, true, true])
  })
})

describe('bad deep-check input', () => {
  it('is exit 2 with one line before any AWS call', async () => {
    // Port 9 (discard) on loopback: nothing answers, so any AWS call would fail with exit 1.
    const env = {AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AUDITFORGE_BUCKET: 'some-shared-bucket'}
    const runs = await Promise.all([
      ...['0', '-1', 'x', '1.5', '10001'].map((value) =>
        runCli(['migrate', '--verify-only', '--content-sample', value], {env}),
      ),
      runCli(['migrate', '--execute', '--yes', '--content-sample=-1'], {env}),
      runCli(['migrate', '--checksums'], {env}),
      runCli(['migrate', '--content-sample', '5'], {env}),
      runCli(['migrate', '--engagement-id', 'eng-abc', '--reconcile', '--yes', '--checksums'], {env}),
    ])
    for (const result of runs) {
      expect(result.code, result.stderr).toBe(2)
      expect(result.stdout).toBe('')
      expect(
        result.stderr.split('\n').filter((line) => line.startsWith('Error:')),
        result.stderr,
      ).toHaveLength(1)
      expect(result.stderr).not.toMatch(/reach|ECONNREFUSED|127\.0\.0\.1:9/)
    }
    expect(runs[0].stderr).toMatch(/--content-sample/)
    for (const result of runs.slice(6))
      expect(result.stderr).toContain(
        'Error: --checksums and --content-sample check a migration: use them with --execute or --verify-only',
      )
  })
})
