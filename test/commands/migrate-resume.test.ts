/**
 * `auditforge migrate` interrupted and resumed, verified and rolled back, on moto: the built CLI
 * as a subprocess, state checked with the SDK. The targets are versioned, so a needless re-copy
 * shows up as a second version of a key.
 */
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {hostname} from 'node:os'

import {
  CopyObjectCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandOutput,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3'
import pLimit from 'p-limit'
import {beforeAll, describe, expect, it} from 'vitest'

import {baseEnv, binPath, runCli, runJson} from '../helpers/cli.js'
import type {MigrateJson} from '../helpers/migrate.js'
import {differenceText} from '../../src/ui/migration.js'
import {createSharedBucket, getText, motoAccountId, putText, testS3} from '../helpers/s3.js'

const indexKey = 'auditforge/engagements.json'
let s3: S3Client

beforeAll(() => {
  s3 = testS3()
})

const newId = () => `eng-${randomBytes(6).toString('hex')}`
const targetOf = (id: string) => `metis-af-${id.slice('eng-'.length)}-${motoAccountId}`
const migrate = (bucket: string, ...args: string[]) => ['migrate', '--shared-bucket', bucket, ...args]

function record(id: string) {
  return {
    engagement_id: id,
    name: `Engagement ${id}`,
    client_id: 'client-1',
    created_at: '2026-01-01T00:00:00Z',
    source_bucket: '',
    findings_key: `auditforge/engagements/${id}/findings.json`,
    audit_log_key: `auditforge/engagements/${id}/audit_log/`,
  }
}

async function sourceBucketOf(bucket: string, id: string): Promise<string> {
  const index = JSON.parse(await getText(s3, bucket, indexKey)) as {
    engagements: {engagement_id: string; source_bucket: string}[]
  }
  return index.engagements.find((entry) => entry.engagement_id === id)!.source_bucket
}

/** A shared bucket holding one engagement with `count` small objects; returns its keys. */
async function seedEngagement(bucket: string, id: string, count: number): Promise<string[]> {
  await putText(s3, bucket, indexKey, JSON.stringify({engagements: [record(id)]}), 'application/json')
  const keys = [`auditforge/engagements/${id}/findings.json`, `auditforge/deliverables/${id}.md`]
  for (let i = keys.length; i < count; i++)
    keys.push(`auditforge/engagements/${id}/audit_log/shard-${String(i).padStart(5, '0')}.jsonl`)
  const limit = pLimit(32)
  await Promise.all(
    keys.map((key, i) =>
      limit(() =>
        s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: `{"n":${i},"key":"${key}"}\n`,
            ContentType: 'application/x-ndjson',
          }),
        ),
      ),
    ),
  )
  await putText(s3, bucket, 'client-1/index/corpus.json', 'tenant corpus')
  return keys.sort()
}

/** The migration's own evidence, under its reserved prefix: not engagement data. */
const isEvidence = (key: string) => key.startsWith('auditforge/migrations/')

async function currentKeys(bucket: string): Promise<string[]> {
  const keys: string[] = []
  for await (const page of paginateListObjectsV2({client: s3}, {Bucket: bucket}))
    for (const object of page.Contents ?? []) keys.push(object.Key!)
  return keys.filter((key) => !isEvidence(key)).sort()
}

/** key → number of versions (delete markers count as versions too). */
async function versionCounts(bucket: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>()
  let page: ListObjectVersionsCommandOutput | undefined
  do {
    page = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        KeyMarker: page?.NextKeyMarker,
        VersionIdMarker: page?.NextVersionIdMarker,
      }),
    )
    for (const entry of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
      if (!isEvidence(entry.Key!)) counts.set(entry.Key!, (counts.get(entry.Key!) ?? 0) + 1)
    }
  } while (page.IsTruncated)
  return counts
}

/** Every version id, as "key@versionId", sorted; optionally without the index. */
async function versions(bucket: string, withoutIndex = false): Promise<string[]> {
  const all: string[] = []
  let page: ListObjectVersionsCommandOutput | undefined
  do {
    page = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        KeyMarker: page?.NextKeyMarker,
        VersionIdMarker: page?.NextVersionIdMarker,
      }),
    )
    for (const entry of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])])
      all.push(`${entry.Key}@${entry.VersionId}`)
  } while (page.IsTruncated)
  return all.filter((entry) => !isEvidence(entry) && (!withoutIndex || !entry.startsWith(`${indexKey}@`))).sort()
}

/**
 * The target's keys once copies that moto was still serving for the killed process have landed:
 * the listing no longer changes over a few polls.
 */
async function settled(bucket: string): Promise<string[]> {
  let previous = await currentKeys(bucket)
  for (let stable = 0; stable < 3;) {
    await new Promise((resolve) => setTimeout(resolve, 150))
    const now = await currentKeys(bucket)
    stable = now.length === previous.length ? stable + 1 : 0
    previous = now
  }
  return previous
}

function expectOneVersionEach(counts: Map<string, number>, keys: string[]): void {
  expect([...counts.keys()].sort()).toEqual(keys)
  const copiedTwice = [...counts].filter(([, count]) => count > 1)
  expect(copiedTwice).toEqual([])
}

describe('migrate: resuming', () => {
  it('copies only the missing keys into a target that already holds part of the engagement', async () => {
    const bucket = await createSharedBucket(s3, 'mig-resume')
    const id = newId()
    const keys = await seedEngagement(bucket, id, 30)
    const target = targetOf(id)
    const provisioned = await runCli(['bucket', 'provision', id, '--shared-bucket', bucket])
    expect(provisioned.code, provisioned.stderr).toBe(0)
    expect(provisioned.stdout.trim()).toBe(target)
    const already = keys.filter((_, i) => i % 3 === 0)
    for (const key of already) {
      await s3.send(
        new CopyObjectCommand({
          Bucket: target,
          Key: key,
          CopySource: `${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`,
        }),
      )
    }

    const result = await runJson<MigrateJson>(migrate(bucket, '--execute', '--yes'))

    expect(result.code, result.stderr).toBe(0)
    expect(result.json.engagements).toEqual([
      expect.objectContaining({
        engagement_id: id,
        status: 'migrated',
        objects: keys.length,
        skipped_existing: already.length,
        copied: keys.length - already.length,
      }),
    ])
    expect(result.json.totals).toMatchObject({copied: keys.length - already.length, skipped_existing: already.length})
    expectOneVersionEach(await versionCounts(target), keys)
    expect(await sourceBucketOf(bucket, id)).toBe(target)
  })

  it('completes a run killed partway, copying no object twice', {timeout: 120_000}, async () => {
    const bucket = await createSharedBucket(s3, 'mig-kill')
    const id = newId()
    const keys = await seedEngagement(bucket, id, 300)
    const target = targetOf(id)

    const child = spawn(process.execPath, [binPath, ...migrate(bucket, '--execute', '--yes', '--concurrency', '4')], {
      env: baseEnv() as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.once('exit', (code, signal) => resolve(signal ?? code)),
    )
    // Kill it once some, but not all, objects have landed in the target.
    const deadline = Date.now() + 30_000
    let seen = 0
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        seen = (await s3.send(new ListObjectsV2Command({Bucket: target}))).KeyCount ?? 0
      } catch {
        seen = 0 // the target does not exist yet
      }
      if (seen >= 20) break
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    // Its lease on the engagement names it.
    const lease = JSON.parse(await getText(s3, bucket, `auditforge/leases/migrate-${id}.json`))
    expect(lease).toMatchObject({pid: child.pid, host: hostname()})
    child.kill('SIGKILL')
    expect(await exited, `the first run ended on its own: ${stderr}`).toBe('SIGKILL')
    const landed = await settled(target)
    expect(landed.length).toBeGreaterThanOrEqual(20)
    expect(landed.length).toBeLessThan(keys.length)
    expect(await sourceBucketOf(bucket, id)).toBe('')

    const rerun = await runJson<MigrateJson>(migrate(bucket, '--execute', '--yes'))

    expect(rerun.code, rerun.stderr).toBe(0)
    const [outcome] = rerun.json.engagements
    expect(outcome).toMatchObject({
      engagement_id: id,
      status: 'migrated',
      objects: keys.length,
      skipped_existing: landed.length,
      copied: keys.length - landed.length,
    })
    expect(await currentKeys(target)).toEqual(keys)
    expectOneVersionEach(await versionCounts(target), keys)
    expect(await sourceBucketOf(bucket, id)).toBe(target)
  })
})

describe('migrate: one run per engagement', () => {
  it("is refused (exit 6, nothing copied, record untouched) while a live run holds the engagement's lease; a killed one's is taken over", async () => {
    const bucket = await createSharedBucket(s3, 'mig-lease')
    const id = newId()
    await seedEngagement(bucket, id, 3)
    const leaseKey = `auditforge/leases/migrate-${id}.json`
    const at = new Date().toISOString()
    // Held by this very test process: alive, on this host.
    await putText(
      s3,
      bucket,
      leaseKey,
      JSON.stringify({
        run_id: '20260101T000000.000Z-aaaaaa',
        operator: 'arn:aws:iam::123456789012:user/alice',
        host: hostname(),
        pid: process.pid,
        acquired_at: at,
        renewed_at: at,
      }),
    )

    const refused = await runCli(migrate(bucket, '--execute', '--yes'))
    expect(refused.code).toBe(6)
    expect(refused.stderr).toContain(
      `Another migrate run (20260101T000000.000Z-aaaaaa, by arn:aws:iam::123456789012:user/alice on ${hostname()}, pid ${process.pid}) is working on ${id}`,
    )
    expect(refused.stderr).toContain(
      '1 engagement is being migrated by another run; run the command again once it has finished',
    )
    expect(await sourceBucketOf(bucket, id)).toBe('')
    await expect(s3.send(new ListObjectsV2Command({Bucket: targetOf(id)}))).rejects.toMatchObject({
      $metadata: {httpStatusCode: 404},
    })

    // A process that is gone (a pid no process has) left it: taken over at once.
    await putText(
      s3,
      bucket,
      leaseKey,
      JSON.stringify({
        run_id: '20260101T000000.000Z-bbbbbb',
        operator: 'x',
        host: hostname(),
        pid: 2 ** 22 + 1,
        acquired_at: at,
        renewed_at: at,
      }),
    )
    const rerun = await runJson<MigrateJson>(migrate(bucket, '--execute', '--yes'))
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(await sourceBucketOf(bucket, id)).toBe(targetOf(id))
  })
})

describe('migrate --verify-only', () => {
  it('an engagement created in its own bucket is "no migration", never "ok": nothing was ever copied to verify', async () => {
    const bucket = await createSharedBucket(s3, 'mig-nomig')
    const created = await runJson<{engagement_id: string; source_bucket: string}>([
      'engagement',
      'create',
      '--name',
      'Born isolated',
      '--client-id',
      'c',
      '--isolated',
      '--shared-bucket',
      bucket,
    ])
    expect(created.code, created.stderr).toBe(0)
    await putText(
      s3,
      created.json.source_bucket,
      `auditforge/engagements/${created.json.engagement_id}/source/new.txt`,
      'written by the application',
    )

    const json = await runJson<MigrateJson>(
      migrate(bucket, '--verify-only', '--engagement-id', created.json.engagement_id),
    )
    expect(json.code, json.stderr).toBe(0)
    expect(json.json.engagements[0]).toMatchObject({
      engagement_id: created.json.engagement_id,
      status: 'no_migration',
      evidence_run: null,
      objects: 0,
    })
    const table = await runCli(migrate(bucket, '--verify-only', '--engagement-id', created.json.engagement_id))
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(new RegExp(`${created.json.engagement_id}.*no migration`))
    expect(table.stdout).not.toMatch(/\bok\b/)
  })

  it('passes after a migration and exits 4 listing the difference once a migrated version is deleted from the target', async () => {
    const bucket = await createSharedBucket(s3, 'mig-verify')
    const id = newId()
    const keys = await seedEngagement(bucket, id, 12)
    const first = await runJson<MigrateJson>(migrate(bucket, '--execute', '--yes'))
    expect(first.code, first.stderr).toBe(0)
    const target = targetOf(id)
    const sharedBefore = await versions(bucket)
    const targetBefore = await versions(target)

    const ok = await runJson<MigrateJson>(migrate(bucket, '--verify-only'))
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.json.mode).toBe('verify')
    expect(ok.json.engagements).toEqual([
      expect.objectContaining({
        engagement_id: id,
        target_bucket: target,
        status: 'verified',
        objects: keys.length,
        differences: [],
      }),
    ])
    const table = await runCli(migrate(bucket, '--verify-only', '--engagement-id', id))
    expect(table.code).toBe(0)
    expect(table.stdout).toContain(target)

    // Deleting the current object is something the application may do: information, still verified.
    const [deleted, destroyed] = [keys[5], keys[6]]
    await s3.send(new DeleteObjectCommand({Bucket: target, Key: deleted}))
    const stillOk = await runJson<MigrateJson>(migrate(bucket, '--verify-only'))
    expect(stillOk.code, stillOk.stderr).toBe(0)
    expect(stillOk.json.engagements[0]).toMatchObject({status: 'verified', changed_since_migration: 1})
    // Destroying the migrated version itself is not.
    const head = await s3.send(new HeadObjectCommand({Bucket: target, Key: destroyed}))
    await s3.send(new DeleteObjectCommand({Bucket: target, Key: destroyed, VersionId: head.VersionId}))

    const failed = await runJson<MigrateJson>(migrate(bucket, '--verify-only'))
    expect(failed.code).toBe(4)
    expect(failed.json.engagements).toEqual([
      expect.objectContaining({
        engagement_id: id,
        status: 'verification_failed',
        differences: [
          expect.objectContaining({key: destroyed, kind: 'migrated_version_missing', target: expect.any(String)}),
        ],
      }),
    ])
    expect(failed.json.engagements[0].differences!.map((difference) => differenceText(difference))).toEqual([
      expect.stringContaining(`migrated version missing: ${destroyed}`),
    ])
    const plain = await runCli(migrate(bucket, '--verify-only', '--engagement-id', id))
    expect(plain.code).toBe(4)
    expect(plain.stderr).toContain(destroyed)

    // Verification copied nothing and changed no record.
    expect(await versions(bucket)).toEqual(sharedBefore)
    const untouched = (entries: string[]) =>
      entries.filter((entry) => !entry.startsWith(`${deleted}@`) && !entry.startsWith(`${destroyed}@`))
    expect(untouched(await versions(target))).toEqual(untouched(targetBefore))
    expect(await sourceBucketOf(bucket, id)).toBe(target)
  })
})

describe('migrate rollback', () => {
  it('refuses without --yes and no TTY, then points the record back at the shared bucket touching no object', async () => {
    const bucket = await createSharedBucket(s3, 'mig-rollback')
    const id = newId()
    const keys = await seedEngagement(bucket, id, 10)
    const first = await runJson<MigrateJson>(migrate(bucket, '--execute', '--yes'))
    expect(first.code, first.stderr).toBe(0)
    const target = targetOf(id)
    const newer = `auditforge/engagements/${id}/audit_log/shard-90000.jsonl`
    await putText(s3, target, newer, '{"written":"after the migration"}\n')
    const sharedBefore = await versions(bucket)
    const targetBefore = await versions(target)

    const refused = await runCli(['migrate', 'rollback', '--engagement-id', id, '--shared-bucket', bucket])
    expect(refused.code).toBe(5)
    expect(await sourceBucketOf(bucket, id)).toBe(target)
    expect(await versions(bucket)).toEqual(sharedBefore)

    const rolledBack = await runJson<{
      engagement_id: string
      previous_source_bucket: string
      source_bucket: string
      newer_in_bucket: string[]
    }>(['migrate', 'rollback', '--engagement-id', id, '--yes', '--shared-bucket', bucket])

    expect(rolledBack.code, rolledBack.stderr).toBe(0)
    expect(rolledBack.json).toEqual({
      engagement_id: id,
      previous_source_bucket: target,
      source_bucket: '',
      newer_in_bucket: [newer],
    })
    expect(await sourceBucketOf(bucket, id)).toBe('')
    expect(await versions(target)).toEqual(targetBefore)
    expect(await versions(bucket, true)).toEqual(sharedBefore.filter((entry) => !entry.startsWith(`${indexKey}@`)))

    // Once the newer object is dealt with, migrating again finds every key in place and copies nothing.
    await s3.send(new DeleteObjectCommand({Bucket: target, Key: newer}))
    const targetKept = (await versions(target)).filter((entry) => !entry.startsWith(`${newer}@`))
    const again = await runJson<MigrateJson>(migrate(bucket, '--engagement-id', id, '--execute', '--yes'))
    expect(again.code, again.stderr).toBe(0)
    expect(again.json.engagements).toEqual([
      expect.objectContaining({status: 'migrated', copied: 0, skipped_existing: keys.length}),
    ])
    expect((await versions(target)).filter((entry) => !entry.startsWith(`${newer}@`))).toEqual(targetKept)
    expect(await sourceBucketOf(bucket, id)).toBe(target)
  })

  it('exits 3 for an unknown engagement and 2 for a bad id', async () => {
    const bucket = await createSharedBucket(s3, 'mig-rollback-bad')
    await seedEngagement(bucket, newId(), 2)
    const unknown = await runCli([
      'migrate',
      'rollback',
      '--engagement-id',
      newId(),
      '--yes',
      '--shared-bucket',
      bucket,
    ])
    expect(unknown.code).toBe(3)
    const bad = await runCli(['migrate', 'rollback', '--engagement-id', 'eng-NOPE', '--yes', '--shared-bucket', bucket])
    expect(bad.code).toBe(2)
    expect(bad.stdout).toBe('')
  })
})
