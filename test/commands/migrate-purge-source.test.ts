/**
 * `migrate purge-source` on moto, through the built CLI: the dry run changes nothing; the
 * refusals (not migrated, no evidence, younger than --min-age, a verification that fails now,
 * no --yes without a terminal, a bad --min-age) each with their exit code; a purge removes every
 * version of exactly the engagement's keys from the shared bucket (never a neighbour's, never the
 * index), records them in the engagement's bucket and in its audit log; after it a re-run is a
 * no-op, rollback is refused and `migrate evidence` shows it. State is read back with the SDK.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import {beforeAll, describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {
  expectedBucketName,
  makeManagedBucket,
  putIndex,
  randomEngagementId,
  readIndex,
  recordsOf,
  seedRecord,
} from '../helpers/commands.js'
import type {MigrateJson} from '../helpers/migrate.js'
import {differenceText} from '../../src/ui/migration.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'
import type {VerificationDifference} from '../../src/results/migrate.js'

let s3: S3Client
beforeAll(() => {
  s3 = testS3()
})

const key = (id: string, name: string) => `auditforge/engagements/${id}/${name}`
const put = (bucket: string, name: string, body: string) =>
  s3.send(new PutObjectCommand({Bucket: bucket, Key: name, Body: body}))
const text = async (bucket: string, name: string) =>
  (await s3.send(new GetObjectCommand({Bucket: bucket, Key: name}))).Body!.transformToString('utf8')

interface PurgeJson {
  engagement_id: string
  status: string
  mode: string
  bucket: string | null
  flipped_at: string | null
  min_age_met: boolean | null
  verification: {result: string; missing: number; late_writes: number; differences: VerificationDifference[]}
  removal: {keys: number; versions: number; delete_markers: number; bytes: number; first_keys: string[]} | null
  error: {code: string; message: string; exit: number; suggestion: string | null} | null
  purge: {
    purge_id: string
    evidence_bucket: string
    evidence_key: string
    removed: {versions: number; delete_markers: number; bytes: number | null}
    left: {versions: number}
    audit_event_id: string | null
  } | null
}

/** Every version and delete marker in a bucket, as `key@version` (markers marked), sorted. */
async function allVersions(bucket: string, prefix?: string): Promise<string[]> {
  const entries: string[] = []
  let keyMarker: string | undefined
  let versionIdMarker: string | undefined
  for (;;) {
    const page = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        Prefix: prefix,
        KeyMarker: keyMarker,
        VersionIdMarker: versionIdMarker,
      }),
    )
    for (const version of page.Versions ?? []) entries.push(`${version.Key}@${version.VersionId}`)
    for (const marker of page.DeleteMarkers ?? []) entries.push(`${marker.Key}@${marker.VersionId} (delete marker)`)
    if (!page.IsTruncated) break
    keyMarker = page.NextKeyMarker
    versionIdMarker = page.NextVersionIdMarker
  }
  return entries.sort()
}

async function keysUnder(bucket: string, prefix: string): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({Bucket: bucket, Prefix: prefix}))
  return (page.Contents ?? []).map((object) => object.Key!).sort()
}

/**
 * A shared bucket with two engagements whose ids share a prefix (`<id>` and `<id>0`), the
 * tenant corpus and the firms file; `<id>` has history (an overwritten key, a deleted key) and
 * is migrated with the CLI; its neighbour stays in the shared bucket.
 */
async function migrated() {
  const bucket = await createSharedBucket(s3, 'purge')
  const id = randomEngagementId()
  const neighbour = `${id}0`
  await putIndex(s3, bucket, {engagements: [seedRecord(id), seedRecord(neighbour)]})
  const own = [
    key(id, 'findings.json'),
    key(id, 'audit_log/shard-00000.jsonl'),
    key(id, 'source/a.pdf'),
    key(id, 'source/gone.pdf'),
    `auditforge/deliverables/${id}.md`,
    `auditforge/exports/${id}-20260101T000000Z.jsonl`,
  ]
  for (const name of own)
    await put(
      bucket,
      name,
      name.includes('/audit_log/')
        ? `${JSON.stringify({event: 'engagement.created', engagement_id: id})}\n`
        : `${name} v1`,
    )
  await put(bucket, key(id, 'source/a.pdf'), 'a v2')
  await s3.send(new DeleteObjectCommand({Bucket: bucket, Key: key(id, 'source/gone.pdf')}))
  const others = [
    key(neighbour, 'findings.json'),
    `auditforge/deliverables/${neighbour}.json`,
    `auditforge/exports/${neighbour}-20260101T000000Z.jsonl`,
    'acme/index/corpus.txt',
    'auditforge/firms.json',
  ]
  for (const name of others) await put(bucket, name, `${name} v1`)
  // Listings give whole seconds, and a non-current version from the switch's own second counts as
  // written after it (gone.pdf's, whose key the evidence does not name): seeding and switching in
  // one second would make every purge refuse written_after_switch. Switch in the next second.
  await new Promise((resolve) => setTimeout(resolve, 1050 - (Date.now() % 1000)))

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
  expect(result.json.engagements[0]).toMatchObject({status: 'migrated', copied: 5})
  return {bucket, id, neighbour, own, target: expectedBucketName(id)}
}

const purge = (bucket: string, id: string, ...flags: string[]) =>
  runJson<PurgeJson>(['migrate', 'purge-source', '--engagement-id', id, '--shared-bucket', bucket, ...flags])

describe('migrate purge-source', () => {
  it('removes every version of exactly the engagement, records them and the audit event; then re-runs are no-ops, rollback is refused and evidence shows it', async () => {
    const {bucket, id, own, target} = await migrated()
    const before = await allVersions(bucket)
    const ours = before.filter((entry) => own.some((name) => entry.startsWith(`${name}@`)))
    // Seven versions (a.pdf twice, gone.pdf's version) and gone.pdf's delete marker.
    expect(ours).toHaveLength(8)
    expect(ours.filter((entry) => entry.endsWith('(delete marker)'))).toHaveLength(1)

    // The dry run lists and changes nothing.
    const dry = await purge(bucket, id, '--min-age', '0')
    expect(dry.code, dry.stderr).toBe(0)
    expect(dry.json).toMatchObject({
      status: 'would_purge',
      mode: 'dry_run',
      min_age_met: true,
      verification: {result: 'passed'},
      error: null,
      purge: null,
    })
    expect(dry.json).not.toHaveProperty('refusal')
    expect(dry.json.removal).toMatchObject({keys: 6, versions: 7, delete_markers: 1})
    expect([...dry.json.removal!.first_keys].sort()).toEqual([...own].sort())
    const text0 = await runCli([
      'migrate',
      'purge-source',
      '--engagement-id',
      id,
      '--shared-bucket',
      bucket,
      '--min-age',
      '0',
    ])
    expect(text0.code, text0.stderr).toBe(0)
    expect(text0.stdout).toContain('To remove:     6 keys: 7 versions, 1 delete marker')
    expect(text0.stdout).toContain(`  ${key(id, 'source/gone.pdf')}\n`)
    expect(text0.stderr).toContain('Dry run: nothing was changed.')
    expect(await allVersions(bucket)).toEqual(before)
    expect(await keysUnder(target, `auditforge/migrations/${id}/purges/`)).toEqual([])

    const purged = await purge(bucket, id, '--min-age', '0', '--execute', '--yes')
    expect(purged.code, purged.stderr).toBe(0)
    expect(purged.json.status).toBe('purged')
    expect(purged.json.purge).toMatchObject({
      removed: {versions: 7, delete_markers: 1},
      left: {versions: 0},
      evidence_bucket: target,
    })

    // Exactly the engagement's versions are gone; the neighbour, the tenant corpus, the firms
    // file and the index (every version of it) are as they were.
    const after = await allVersions(bucket)
    expect(after).toEqual(before.filter((entry) => !ours.includes(entry)))
    expect(after.some((entry) => entry.startsWith('auditforge/engagements.json@'))).toBe(true)
    expect(
      recordsOf((await readIndex(s3, bucket)).json).find((record) => record.engagement_id === id)?.source_bucket,
    ).toBe(target)

    // The purge record, and its chunks name exactly the versions removed.
    const recordKey = purged.json.purge!.evidence_key
    const record = JSON.parse(await text(target, recordKey))
    expect(record).toMatchObject({
      status: 'completed',
      purge_id: purged.json.purge!.purge_id,
      shared_bucket: bucket,
      min_age: '0',
      verification: {result: 'passed'},
      left: {versions: 0},
    })
    expect(record.completed_at).toMatch(/^\d{4}-/)
    const chunks = (await keysUnder(target, recordKey.replace(/purge\.json$/, ''))).filter((name) =>
      name.endsWith('.jsonl'),
    )
    expect(chunks.map((name) => name.split('/').at(-1))).toEqual(['current-00001.jsonl', 'noncurrent-00001.jsonl'])
    const lines = (await Promise.all(chunks.map((name) => text(target, name)))).flatMap((body) =>
      body
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
    )
    expect(
      lines.map((line) => `${line.key}@${line.version_id}${line.is_delete_marker ? ' (delete marker)' : ''}`).sort(),
    ).toEqual(ours)

    // The audit-log event, in the engagement's own bucket.
    const shards = await keysUnder(target, key(id, 'audit_log/'))
    const events = (await Promise.all(shards.map((name) => text(target, name)))).flatMap((body) =>
      body
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line)),
    )
    const event = events.find((candidate) => candidate.event === 'migration.source_purged')
    expect(event).toMatchObject({
      engagement_id: id,
      evidence_key: recordKey,
      versions: 7,
      delete_markers: 1,
      event_id: purged.json.purge!.audit_event_id,
    })

    // A re-run finds nothing left and says so, writing nothing.
    const again = await runCli([
      'migrate',
      'purge-source',
      '--engagement-id',
      id,
      '--shared-bucket',
      bucket,
      '--min-age',
      '0',
      '--execute',
      '--yes',
    ])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stderr).toContain(`Nothing of ${id} is left in ${bucket}; it was purged at ${record.completed_at}`)
    expect(
      (await keysUnder(target, `auditforge/migrations/${id}/purges/`)).filter((name) => name.endsWith('purge.json')),
    ).toEqual([recordKey])

    // Rollback would point the application at a bucket without the data.
    const rollback = await runCli(['migrate', 'rollback', '--engagement-id', id, '--yes', '--shared-bucket', bucket])
    expect(rollback.code).toBe(5)
    expect(rollback.stderr).toContain(
      `Refusing to roll back ${id}: its data was purged from the shared bucket ${bucket}`,
    )
    expect(
      recordsOf((await readIndex(s3, bucket)).json).find((record) => record.engagement_id === id)?.source_bucket,
    ).toBe(target)

    const evidence = await runJson<{
      source_purge: {status: string; versions: number; delete_markers: number; completed_at: string; key: string} | null
    }>(['migrate', 'evidence', id, '--shared-bucket', bucket])
    expect(evidence.code, evidence.stderr).toBe(0)
    expect(evidence.json.source_purge).toMatchObject({
      status: 'completed',
      versions: 7,
      delete_markers: 1,
      completed_at: record.completed_at,
      key: recordKey,
    })
    const shown = await runCli(['migrate', 'evidence', id, '--shared-bucket', bucket])
    expect(shown.stdout).toContain(`Source purge:  purged at ${record.completed_at}: 7 versions and 1 delete marker`)

    // The migration still verifies: every migrated version is in the engagement's bucket.
    const verify = await runCli(['migrate', '--verify-only', '--engagement-id', id, '--shared-bucket', bucket])
    expect(verify.code, verify.stderr).toBe(0)
  })

  it('refuses before --min-age (30 days by default) in the dry run and with --execute, and deletes nothing', async () => {
    const {bucket, id, target} = await migrated()
    const before = await allVersions(bucket)

    const dry = await purge(bucket, id)
    expect(dry.code, JSON.stringify(dry.json.error)).toBe(5)
    // status is the failure's code, as everywhere; the refusal is the error (no second copy of it).
    expect(dry.json).toMatchObject({status: 'too_young', min_age_met: false, error: {code: 'too_young', exit: 5}})
    expect(dry.json).not.toHaveProperty('refusal')
    expect(dry.json.error!.message).toMatch(/^--execute would refuse: .*--min-age is 30d$/)
    // The dry run still made every check: it says what else would stand in the way.
    expect(dry.json.verification.result).toBe('passed')

    // --execute --json refuses with the same full document, not just an error.
    const refused = await purge(bucket, id, '--execute', '--yes')
    expect(refused.code, JSON.stringify(refused.json.error)).toBe(5)
    expect(refused.json).toMatchObject({
      engagement_id: id,
      mode: 'execute',
      status: 'too_young',
      min_age_met: false,
      bucket: target,
      purge: null,
      error: {code: 'too_young', exit: 5},
    })
    expect(refused.json.error!.message).toContain('--min-age is 30d')
    expect(refused.json.removal).toMatchObject({keys: 6})

    const executed = await runCli([
      'migrate',
      'purge-source',
      '--engagement-id',
      id,
      '--shared-bucket',
      bucket,
      '--execute',
      '--yes',
      '--min-age',
      '12h',
    ])
    expect(executed.code).toBe(5)
    expect(executed.stderr).toMatch(
      new RegExp(`^Error: ${id} switched to ${target} at \\S+, \\d+s ago; --min-age is 12h\\n`),
    )
    expect(await allVersions(bucket)).toEqual(before)
    expect(await keysUnder(target, `auditforge/migrations/${id}/purges/`)).toEqual([])
  })

  it('refuses when the fresh verification fails: a late write in the shared bucket, or a migrated version gone from the engagement bucket', async () => {
    const {bucket, id, target} = await migrated()
    await put(bucket, key(id, 'source/late.pdf'), 'written to the shared bucket after the switch')
    const before = await allVersions(bucket)

    const late = await runCli([
      'migrate',
      'purge-source',
      '--engagement-id',
      id,
      '--shared-bucket',
      bucket,
      '--min-age',
      '0',
      '--execute',
      '--yes',
    ])
    expect(late.code).toBe(4)
    expect(late.stderr).toContain(`late write: ${key(id, 'source/late.pdf')}`)
    expect(late.stderr).toContain(
      `Error: ${id} does not verify against its migration evidence now: 1 late write in the shared bucket; nothing was deleted`,
    )
    expect(late.stderr).toContain(`auditforge migrate --reconcile --engagement-id ${id}`)
    // Under --json the refusal is the full document, with the structured differences.
    const lateJson = await purge(bucket, id, '--min-age', '0', '--execute', '--yes')
    expect(lateJson.code).toBe(4)
    expect(lateJson.json).toMatchObject({
      mode: 'execute',
      status: 'verification_failed',
      verification: {result: 'failed', late_writes: 1},
      purge: null,
      error: {code: 'verification_failed', exit: 4},
    })
    expect(lateJson.json.verification.differences).toEqual([
      expect.objectContaining({key: key(id, 'source/late.pdf'), kind: 'late_write'}),
    ])
    expect(await allVersions(bucket)).toEqual(before)
    expect(await keysUnder(target, `auditforge/migrations/${id}/purges/`)).toEqual([])

    // Reconciled, it verifies again; then a migrated version disappears from the engagement's bucket.
    const reconciled = await runCli([
      'migrate',
      '--reconcile',
      '--engagement-id',
      id,
      '--yes',
      '--shared-bucket',
      bucket,
    ])
    expect(reconciled.code, reconciled.stderr).toBe(0)
    const versions = await s3.send(new ListObjectVersionsCommand({Bucket: target, Prefix: key(id, 'findings.json')}))
    for (const version of versions.Versions ?? [])
      await s3.send(new DeleteObjectCommand({Bucket: target, Key: version.Key, VersionId: version.VersionId}))
    const missing = await purge(bucket, id, '--min-age', '0')
    expect(missing.code).toBe(4)
    expect(missing.json).toMatchObject({
      status: 'verification_failed',
      verification: {result: 'failed', missing: 1, late_writes: 0},
      error: {code: 'verification_failed', exit: 4},
    })
    expect(missing.json.verification.differences).toEqual([
      expect.objectContaining({key: key(id, 'findings.json'), kind: 'migrated_version_missing'}),
    ])
    expect(missing.json.verification.differences.map((difference) => differenceText(difference))).toEqual([
      expect.stringContaining(`migrated version missing: ${key(id, 'findings.json')}`),
    ])
    expect(await allVersions(bucket)).toEqual(before)
  })

  it('refuses an engagement that is not migrated, and one without evidence of its switch', async () => {
    const bucket = await createSharedBucket(s3, 'purge')
    const [plain, unproven] = [randomEngagementId(), randomEngagementId()]
    const own = await makeManagedBucket(s3, unproven, bucket)
    await putIndex(s3, bucket, {engagements: [seedRecord(plain), seedRecord(unproven, {source_bucket: own})]})
    await put(bucket, key(plain, 'findings.json'), 'the only copy')
    await put(bucket, key(unproven, 'findings.json'), 'copied by hand')

    const notMigrated = await runCli([
      'migrate',
      'purge-source',
      '--engagement-id',
      plain,
      '--shared-bucket',
      bucket,
      '--min-age',
      '0',
      '--execute',
      '--yes',
    ])
    expect(notMigrated.code).toBe(5)
    expect(notMigrated.stderr).toContain(
      `Error: ${plain} is not migrated: its record points at the shared bucket ${bucket}`,
    )
    const noEvidence = await purge(bucket, unproven, '--min-age', '0')
    expect(noEvidence.code).toBe(5)
    expect(noEvidence.json).toMatchObject({status: 'no_evidence', error: {code: 'no_evidence', exit: 5}})
    expect(await allVersions(bucket, 'auditforge/engagements/')).toHaveLength(2)

    const unknown = await runCli([
      'migrate',
      'purge-source',
      '--engagement-id',
      randomEngagementId(),
      '--shared-bucket',
      bucket,
    ])
    expect(unknown.code).toBe(3)
  })

  it('checks --min-age and the confirmation before any AWS call', async () => {
    // Port 9 on loopback: nothing answers, so any AWS call would fail with exit 1.
    const env = {AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AUDITFORGE_BUCKET: 'some-shared-bucket'}
    const id = randomEngagementId()
    const bad = await Promise.all(
      ['30', '1.5d', '-1d', '2w', 'soon', ' '].map((value) =>
        runCli(['migrate', 'purge-source', '--engagement-id', id, `--min-age=${value}`], {env}),
      ),
    )
    for (const result of bad) {
      expect(result.code, result.stderr).toBe(2)
      expect(result.stderr).toMatch(/^Error: Invalid --min-age ".*": expected a whole number with a unit/)
    }
    const unconfirmed = await runCli(['migrate', 'purge-source', '--engagement-id', id, '--execute'], {env})
    expect(unconfirmed.code).toBe(5)
    expect(unconfirmed.stderr).toContain('no terminal to ask on')
    expect(unconfirmed.stderr).not.toMatch(/reach|ECONNREFUSED/)
  })
})
