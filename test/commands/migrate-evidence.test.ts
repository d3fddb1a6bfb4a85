/**
 * `migrate evidence` against moto: evidence for two runs written with the library into the
 * engagement's own bucket, then read back by the built CLI as text, Markdown and JSON.
 */
import {DeleteObjectCommand, PutObjectCommand} from '@aws-sdk/client-s3'
import {beforeAll, describe, expect, it} from 'vitest'

import {migrationKeys} from '../../src/lib/layout.js'
import {
  type EvidenceLine,
  type EvidenceSummary,
  EvidenceWriter,
  segmentName,
  writeSummary,
} from '../../src/lib/migrate/evidence.js'
import {runCli, runJson} from '../helpers/cli.js'
import {
  expectedBucketName,
  makeManagedBucket,
  putIndex,
  putRaw,
  randomEngagementId,
  seedRecord,
} from '../helpers/commands.js'
import {createSharedBucket, motoAccountId, testS3} from '../helpers/s3.js'
import {evidenceLine} from '../helpers/migrate.js'

const hostileArn = `arn:aws:iam::${motoAccountId}:user/ops\u001b]0;x\u0007|[link](http://evil)`

interface Seeded {
  shared: string
  id: string
  bucket: string
  older: EvidenceSummary
  latest: EvidenceSummary
}

function line(id: string, name: string, action: EvidenceLine['action']): EvidenceLine {
  return evidenceLine(`auditforge/engagements/${id}/source/${name}`, action)
}

async function writeSegment(
  location: {bucket: string; expectedOwner: string; engagementId: string},
  runId: string,
  segment: string,
  lines: EvidenceLine[],
): Promise<void> {
  const s3 = testS3()
  const writer = new EvidenceWriter(s3, location, runId, segment)
  for (const entry of lines) await writer.append(entry)
  await writer.finish()
}

/** A migrated engagement with two runs: the first failed verification, the second flipped. */
async function seed(): Promise<Seeded> {
  const s3 = testS3()
  const shared = await createSharedBucket(s3)
  const id = randomEngagementId()
  const bucket = await makeManagedBucket(s3, id, shared)
  await putIndex(s3, shared, {engagements: [seedRecord(id, {source_bucket: bucket})]})
  const location = {bucket, expectedOwner: motoAccountId, engagementId: id}
  const firstRun = migrationKeys.newRunId(new Date(Date.UTC(2026, 0, 1, 10)), '00000a')
  const secondRun = migrationKeys.newRunId(new Date(Date.UTC(2026, 0, 2, 10)), '00000b')

  await writeSegment(
    location,
    firstRun,
    segmentName(1, 'copy'),
    ['a', 'b', 'c'].map((name) => line(id, name, 'copied')),
  )
  await writeSegment(location, secondRun, segmentName(1, 'copy'), [
    line(id, 'b', 'proven'),
    line(id, 'c', 'removed'),
    line(id, 'd', 'copied'),
  ])
  await writeSegment(location, secondRun, segmentName(2, 'late'), [line(id, 'e', 'late_write')])

  const base = {
    engagement_id: id,
    tool_version: '0.1.0',
    source_bucket: shared,
    target_bucket: bucket,
    late_write_conflicts: 0,
  }
  const older: EvidenceSummary = {
    ...base,
    run_id: firstRun,
    operator_arn: `arn:aws:iam::${motoAccountId}:user/first`,
    started_at: '2026-01-01T10:00:00.000Z',
    finished_at: '2026-01-01T10:05:00.000Z',
    objects: 3,
    bytes: 30,
    copied: 3,
    proven: 0,
    removed: 0,
    verification: {result: 'failed', checked_at: '2026-01-01T10:04:00.000Z', differences: 2},
    index_etag_before: null,
    index_etag_after: null,
    flipped_at: null,
    late_writes: 0,
    segments: [segmentName(1, 'copy')],
  }
  const latest: EvidenceSummary = {
    ...base,
    run_id: secondRun,
    operator_arn: hostileArn,
    started_at: '2026-01-02T10:00:00.000Z',
    finished_at: '2026-01-02T10:09:00.000Z',
    objects: 3,
    bytes: 3 * 1024 * 1024,
    copied: 1,
    proven: 1,
    removed: 1,
    verification: {result: 'passed', checked_at: '2026-01-02T10:07:00.000Z', differences: 0},
    index_etag_before: '"etag-before"',
    index_etag_after: '"etag-after"',
    flipped_at: '2026-01-02T10:08:00.000Z',
    late_writes: 1,
    segments: [segmentName(1, 'copy'), segmentName(2, 'late')],
  }
  await writeSummary(s3, location, older)
  await writeSummary(s3, location, latest)
  return {shared, id, bucket, older, latest}
}

describe('migrate evidence', () => {
  let seeded: Seeded
  const env = () => ({AUDITFORGE_BUCKET: seeded.shared})

  beforeAll(async () => {
    seeded = await seed()
  })

  it('prints the latest run as a short block, with hostile values escaped', async () => {
    const {id, bucket, latest} = seeded
    const result = await runCli(['migrate', 'evidence', id], {env: env()})
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain(`Engagement:    ${id}`)
    expect(result.stdout).toContain(`Bucket:        ${bucket}`)
    expect(result.stdout).toContain(`Run:           ${latest.run_id} (2 runs)`)
    expect(result.stdout).toContain('Objects:       3 (3.00 MiB): 1 copied, 1 proven, 1 removed')
    expect(result.stdout).toContain('Verification:  passed at 2026-01-02T10:07:00.000Z (0 differences)')
    expect(result.stdout).toContain(
      'Flip:          at 2026-01-02T10:08:00.000Z, index ETag "etag-before" → "etag-after"',
    )
    expect(result.stdout).toContain('Late writes:   1 (0 conflicts)')
    expect(result.stdout).toContain('Evidence:      5 lines (all runs): 2 copied, 1 proven, 1 removed, 1 late write')
    expect(result.stdout).toContain(`Location:      s3://${bucket}/auditforge/migrations/${id}/${latest.run_id}/`)
    expect(result.stdout).toContain(
      'Operator:      arn:aws:iam::123456789012:user/ops\\u001b]0;x\\u0007|[link](http://evil)',
    )
    expect(result.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/)
  })

  it('--run picks an older run', async () => {
    const {id, older} = seeded
    const result = await runCli(['migrate', 'evidence', id, '--run', older.run_id], {env: env()})
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain(`Run:           ${older.run_id} (2 runs)`)
    expect(result.stdout).toContain(`Operator:      ${older.operator_arn}`)
    expect(result.stdout).toContain('Verification:  failed at 2026-01-01T10:04:00.000Z (2 differences)')
    expect(result.stdout).toContain('Flip:          not flipped')
  })

  it('--format md renders a Markdown report for an auditor', async () => {
    const {id, bucket, older, latest} = seeded
    const result = await runCli(['migrate', 'evidence', id, '--format', 'md'], {env: env()})
    expect(result.code, result.stderr).toBe(0)
    const lines = result.stdout.split('\n')
    expect(lines[0]).toBe(`# Migration evidence: ${id}`)
    for (const heading of ['## Facts', '## Statement', '## Evidence location', '## Runs'])
      expect(lines).toContain(heading)
    expect(lines).toContain('| Fact | Value |')
    expect(lines).toContain(`| Run | ${latest.run_id} |`)
    expect(lines).toContain(`| Target bucket | ${bucket} |`)
    expect(lines).toContain('| Index ETag before flip | "etag-before" |')
    expect(lines).toContain('| Copied / proven / removed | 1 / 1 / 1 |')
    // The hostile ARN is escaped: no control characters, no table break, no link.
    expect(lines).toContain(
      '| Operator | arn:aws:iam::123456789012:user/ops\\\\u001b\\]0;x\\\\u0007\\|\\[link\\]\\(http://evil\\) |',
    )
    expect(result.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/)
    expect(result.stdout).toContain(
      'The record was switched at 2026-01-02T10:08:00.000Z, after verification passed at 2026-01-02T10:07:00.000Z (index ETag "etag-before" → "etag-after").',
    )
    expect(lines).toContain(`\`s3://${bucket}/auditforge/migrations/${id}/${latest.run_id}/\``)
    expect(lines).toContain(`- ${older.run_id}`)
    expect(lines).toContain(`- ${latest.run_id} (this report)`)
  })

  it('--json prints the report exactly, hostile strings included', async () => {
    const {id, bucket, older, latest} = seeded
    const result = await runJson(['migrate', 'evidence', id], {env: env()})
    expect(result.code, result.stderr).toBe(0)
    // Summaries written before deep checks existed read back with `deep_checks: null`.
    expect(result.json).toEqual({
      engagement_id: id,
      bucket,
      runs: [older.run_id, latest.run_id],
      summary: {...latest, deep_checks: null},
      objects: {lines: 5, copied: 2, proven: 1, removed: 1, late_write: 1},
      verification_record: null,
      source_purge: null,
    })
    expect((result.json as {summary: EvidenceSummary}).summary.operator_arn).toBe(hostileArn)
    expect(result.stdout).not.toContain('\u001b')

    const run = await runJson<{summary: EvidenceSummary}>(['migrate', 'evidence', id, '--run', older.run_id], {
      env: env(),
    })
    expect(run.json.summary).toEqual({...older, deep_checks: null})
  })

  it('shows the latest verification record and its deep checks, hostile values escaped', async () => {
    const s3 = testS3()
    const {id, bucket, shared} = seeded
    const hostileKey = `auditforge/engagements/${id}/source/x\u001b[2J|[a](http://evil)`
    const sampled = {
      key: hostileKey,
      size: 10,
      source_version_id: 'sv',
      target_version_id: 'tv',
      source_sha256: 'a'.repeat(64),
      target_sha256: 'a'.repeat(64),
      outcome: 'equal',
    }
    const record = (verificationId: string, result: string) => ({
      engagement_id: id,
      verification_id: verificationId,
      tool_version: '0.1.0',
      operator_arn: hostileArn,
      source_bucket: shared,
      target_bucket: bucket,
      checked_at: '2026-01-03T10:00:00.000Z',
      evidence_run: seeded.latest.run_id,
      result,
      differences: 0,
      unproven: 0,
      late_writes: 0,
      changed_since_migration: 0,
      new_in_target: 0,
      deep_checks: {
        checksums: null,
        content_sample: {
          result: 'passed',
          checked_at: '2026-01-03T10:00:00.000Z',
          requested: 1,
          population: 3,
          sampled: 1,
          equal: 1,
          mismatches: 0,
          not_compared: 0,
          objects: [sampled],
        },
      },
    })
    const older = record('20260103T090000.000Z-00000c', 'failed')
    const newest = record('20260103T100000.000Z-00000d', 'passed')
    for (const entry of [newest, older]) {
      await s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: migrationKeys.verification(id, entry.verification_id),
          Body: JSON.stringify(entry),
        }),
      )
    }
    try {
      const json = await runJson<{verification_record: unknown}>(['migrate', 'evidence', id], {env: env()})
      expect(json.code, json.stderr).toBe(0)
      expect(json.json.verification_record).toEqual(newest)

      const text = await runCli(['migrate', 'evidence', id], {env: env()})
      expect(text.stdout).toContain(
        `Last verified: passed at 2026-01-03T10:00:00.000Z by arn:aws:iam::123456789012:user/ops\\u001b]0;x\\u0007|[link](http://evil), against run ${seeded.latest.run_id} (0 differences)`,
      )
      expect(text.stdout).toContain(
        '               content sample passed: 1 of 3 objects (1 asked), SHA-256 equal on 1, 0 differ',
      )
      expect(text.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/)

      const markdown = await runCli(['migrate', 'evidence', id, '--format', 'md'], {env: env()})
      expect(markdown.stdout).toContain('## Content sample')
      expect(markdown.stdout).toContain(
        `| verification 20260103T100000.000Z-00000d | auditforge/engagements/${id}/source/x\\\\u001b\\[2J\\|\\[a\\]\\(http://evil\\) | 10 | ${'a'.repeat(64)} | ${'a'.repeat(64)} | equal |`,
      )
      expect(markdown.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/)
    } finally {
      for (const entry of [newest, older])
        await s3.send(
          new DeleteObjectCommand({Bucket: bucket, Key: migrationKeys.verification(id, entry.verification_id)}),
        )
    }
  })

  it('an unknown --run is exit 3 naming the runs', async () => {
    const {id, older, latest} = seeded
    const result = await runCli(['migrate', 'evidence', id, '--run', '20990101T000000.000Z-ffffff'], {env: env()})
    expect(result.code).toBe(3)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('20990101T000000.000Z-ffffff')
    expect(result.stderr).toContain(`${older.run_id}, ${latest.run_id}`)
  })

  it('no evidence is exit 3 with one line saying why, and a suggestion with the real id only where there is a migration to make', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const neverMigrated = randomEngagementId()
    const bornIsolated = randomEngagementId()
    const preEvidence = randomEngagementId()
    await makeManagedBucket(s3, bornIsolated, shared)
    await makeManagedBucket(s3, preEvidence, shared)
    await putIndex(s3, shared, {
      engagements: [
        seedRecord(neverMigrated),
        seedRecord(bornIsolated, {source_bucket: expectedBucketName(bornIsolated)}),
        seedRecord(preEvidence, {source_bucket: expectedBucketName(preEvidence)}),
      ],
    })
    // Migrated by hand, before evidence existed: the shared bucket still holds its keys.
    await putRaw(s3, shared, `auditforge/engagements/${preEvidence}/findings.json`, '{}')
    const env = {AUDITFORGE_BUCKET: shared}
    const lines = {
      [neverMigrated]: `No migration evidence for ${neverMigrated} in ${expectedBucketName(neverMigrated)}; it has not been migrated with evidence yet`,
      [bornIsolated]: `No migration evidence for ${bornIsolated} in ${expectedBucketName(bornIsolated)}: it was created in that bucket and has no migration`,
      [preEvidence]: `No migration evidence for ${preEvidence} in ${expectedBucketName(preEvidence)}; it was migrated before evidence existed`,
    }
    for (const [id, line] of Object.entries(lines)) {
      const result = await runCli(['migrate', 'evidence', id], {env})
      expect(result.code, result.stderr).toBe(3)
      expect(result.stdout).toBe('')
      const [first] = result.stderr.split('\n')
      expect(first).toBe(`Error: ${line}`)
      expect(result.stderr).not.toContain('<id>')
    }
    const json = await runJson<{error: {code: string; exit: number; suggestion: string | null}}>(
      ['migrate', 'evidence', neverMigrated],
      {env},
    )
    expect(json.code).toBe(3)
    expect(json.json.error).toMatchObject({
      code: 'not_found',
      exit: 3,
      suggestion: `Migrate it with \`auditforge migrate --engagement-id ${neverMigrated} --execute\`.`,
    })
    const born = await runJson<{error: {suggestion: string | null}}>(['migrate', 'evidence', bornIsolated], {env})
    expect(born.json.error.suggestion).toBeNull()
    const pre = await runJson<{error: {suggestion: string | null}}>(['migrate', 'evidence', preEvidence], {env})
    expect(pre.json.error.suggestion).toContain(`auditforge migrate --verify-only --engagement-id ${preEvidence}`)
    expect(pre.json.error.suggestion).toContain(`auditforge migrate rollback --engagement-id ${preEvidence}`)
  })

  it('a missing engagement is exit 3', async () => {
    const result = await runCli(['migrate', 'evidence', randomEngagementId()], {env: env()})
    expect(result.code).toBe(3)
    expect(result.stderr).toMatch(/^Error: No engagement eng-/)
  })

  it('a bad id or run id is exit 2 before any AWS call', async () => {
    // Port 9 (discard) on loopback: nothing answers, so any AWS call would fail with exit 1.
    const unreachable = {AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AUDITFORGE_BUCKET: 'some-shared-bucket'}
    const results = await Promise.all([
      runCli(['migrate', 'evidence', 'ENG-1'], {env: unreachable}),
      runCli(['migrate', 'evidence', 'eng-abc', '--run', '../other'], {env: unreachable}),
      runCli(['migrate', 'evidence', 'eng-abc', '--format', 'html'], {env: unreachable}),
    ])
    for (const result of results) {
      expect(result.code, result.stderr).toBe(2)
      expect(result.stdout).toBe('')
      expect(result.stderr).not.toMatch(/reach|ECONNREFUSED/)
    }
  })
})
