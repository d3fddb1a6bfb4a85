/**
 * `migrate --execute --yes` under injected faults, and the migration cases around deletion:
 * throttling and 500s on the copies are absorbed; a lost answer to a copy or to the record's flip
 * neither fails nor flips twice; a half-open copy fails in bounded time with one `Error:` line,
 * the record untouched, and a plain re-run (straight to moto) copies only what is missing (one
 * version per key) and flips the record once; a copy denied says to fix that first. Then: `engagement delete` after `migrate
 * rollback` and after a migration that left a partial copy removes the per-engagement bucket;
 * keys with CR and other control characters migrate exactly and pass `--verify-only`.
 * State is read with the SDK (and the aws CLI) straight from moto.
 */
import {CopyObjectCommand, HeadObjectCommand, ListObjectsV2Command} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {
  awsS3api,
  bucketExists,
  countByKey,
  expectedBucketName,
  indexKey,
  listAllVersions,
  putIndex,
  putRaw,
  randomEngagementId,
  readIndex,
  recordsOf,
  seedRecord,
  seedS3,
} from '../helpers/commands.js'
import {
  bounded,
  expectFullyProvisioned,
  expectOneErrorLine,
  getTextOf,
  keysUnder,
  useFaultProxy,
} from '../helpers/faults.js'
import type {MigrateJson} from '../helpers/migrate.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

const s3 = testS3()
const proxied = useFaultProxy()
const {faulted} = proxied

function migrateArgs(id: string, bucket: string): string[] {
  return ['migrate', '--execute', '--yes', '--engagement-id', id, '--concurrency', '4', '--shared-bucket', bucket]
}

/** An engagement in the shared bucket with `count` objects of its own. */
async function unmigrated(
  stem: string,
  count = 8,
): Promise<{bucket: string; id: string; target: string; keys: string[]}> {
  const seed = seedS3()
  const bucket = await createSharedBucket(seed, stem)
  const id = randomEngagementId()
  await putIndex(seed, bucket, {engagements: [seedRecord(id), seedRecord(randomEngagementId())]})
  const keys = Array.from({length: count}, (_, i) => `auditforge/engagements/${id}/source/doc-${i}.txt`)
  await Promise.all(keys.map((key, i) => putRaw(seed, bucket, key, `document ${i} of ${id}`)))
  return {bucket, id, target: expectedBucketName(id), keys}
}

/** Every key of the source is in the target once (one version), same bytes; the record points there; the index was rewritten once. */
async function expectMigratedOnce(
  setup: {bucket: string; id: string; target: string; keys: string[]},
  indexVersionsBefore: number,
): Promise<void> {
  const versions = countByKey(await listAllVersions(s3, setup.target, `auditforge/engagements/${setup.id}/`))
  expect(versions).toEqual(Object.fromEntries(setup.keys.map((key) => [key, 1])))
  for (const key of setup.keys.slice(0, 2))
    expect(await getTextOf(s3, setup.target, key)).toBe(await getTextOf(s3, setup.bucket, key))
  const record = recordsOf((await readIndex(s3, setup.bucket)).json).find(
    (candidate) => candidate.engagement_id === setup.id,
  )
  expect(record?.source_bucket).toBe(setup.target)
  expect((await listAllVersions(s3, setup.bucket, indexKey)).length).toBe(indexVersionsBefore + 1)
  await expectFullyProvisioned(s3, setup.target, setup.id, setup.bucket)
}

const indexVersions = async (bucket: string) => (await listAllVersions(s3, bucket, indexKey)).length
/** Copies: PUTs of engagement keys into the target bucket (the proxy cannot see x-amz-copy-source; only copies PUT there). */
const copies = (target: string) => ({method: 'PUT', path: new RegExp(`^/${target}/auditforge/engagements/`)})

describe('migrate --execute under faults', () => {
  it.each([
    ['SlowDown on every 2nd copy', {mode: 'slowdown', every: 2} as const],
    ['500s at a seeded rate on the copies', {mode: 'internal-error', rate: 0.5, seed: 2} as const],
  ])('%s is absorbed: one version per key, the record flipped once', async (_, faults) => {
    const setup = await unmigrated('fm-retry')
    const before = await indexVersions(setup.bucket)
    const result = await proxied.run(migrateArgs(setup.id, setup.bucket), {...faults, match: copies(setup.target)})
    expect(result.code, result.stderr).toBe(0)
    expect(faulted().length).toBeGreaterThanOrEqual(1)
    await expectMigratedOnce(setup, before)
  })

  it('the answer to the record flip is lost after it landed: flipped once, no false conflict', async () => {
    const setup = await unmigrated('fm-lost-flip')
    const before = await indexVersions(setup.bucket)
    const result = await proxied.run(migrateArgs(setup.id, setup.bucket), {
      mode: 'reset',
      resetIn: 'head',
      limit: 1,
      match: {method: 'PUT', path: /\/auditforge\/engagements\.json$/},
    })
    expect(faulted()).toHaveLength(1)
    expect(result.code, result.stderr).toBe(0)
    // The only warning: TLS-only does not apply on moto's plain http (said, never hidden).
    expect(result.stderr).not.toMatch(/^Error:/m)
    expect(result.stderr.match(/^Warning:.*$/gm)).toEqual([
      `Warning: ${setup.id}: tls-only was not applied to ${expectedBucketName(setup.id)}: plain-http endpoint: every request would be denied`,
    ])
    await expectMigratedOnce(setup, before)
  })

  it('the answers to copies are lost after they landed: migrated, every key verified', async () => {
    const setup = await unmigrated('fm-lost-copy')
    const result = await proxied.run(migrateArgs(setup.id, setup.bucket), {
      mode: 'reset',
      resetIn: 'head',
      every: 3,
      limit: 2,
      match: copies(setup.target),
    })
    expect(faulted()).toHaveLength(2)
    expect(result.code, result.stderr).toBe(0)
    expect(await keysUnder(s3, setup.target, `auditforge/engagements/${setup.id}/source/`)).toEqual(
      [...setup.keys].sort(),
    )
    const verify = await runJson<MigrateJson>([
      'migrate',
      '--verify-only',
      '--engagement-id',
      setup.id,
      '--shared-bucket',
      setup.bucket,
    ])
    expect(verify.code, verify.stderr).toBe(0)
    expect(verify.json.engagements[0]).toMatchObject({status: 'verified', objects: setup.keys.length})
  })

  it('a copy refused for a cause a re-run does not fix (access denied) says to fix it first, not that a re-run finishes it', async () => {
    const setup = await unmigrated('fm-denied')
    const denied = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`
    const result = await proxied.run(migrateArgs(setup.id, setup.bucket), {
      mode: 'answer',
      match: {method: 'PUT', path: new RegExp(`^/${setup.target}/auditforge/engagements/`)},
      answer: {status: 403, contentType: 'application/xml', body: denied},
    })
    expect(expectOneErrorLine({...result, stdout: ''})).toBe(
      'Error: 1 engagement failed to migrate; its record was not changed. Its error says what to fix first; running the command again then finishes it.',
    )
    expect(result.stderr).toMatch(
      new RegExp(`^Warning: ${setup.id}: Copying s3://${setup.target}/.*: access denied$`, 'm'),
    )
    expect(
      recordsOf((await readIndex(s3, setup.bucket)).json).find((record) => record.engagement_id === setup.id)
        ?.source_bucket,
    ).toBe('')
  })

  it('a half-open copy fails with one line in bounded time, the record untouched; a re-run copies what is missing and flips once', async () => {
    const setup = await unmigrated('fm-hole')
    const before = await indexVersions(setup.bucket)
    const stuck = setup.keys[5]
    const started = Date.now()
    const result = await proxied.run(
      migrateArgs(setup.id, setup.bucket),
      {mode: 'blackhole', match: {method: 'PUT', path: `/${setup.target}/${stuck}`}},
      bounded,
    )
    expect(Date.now() - started).toBeLessThan(20_000)
    // stdout carries the plan and outcome tables (data); stderr the warning and the one error line.
    expect(expectOneErrorLine({...result, stdout: ''})).toBe(
      'Error: 1 engagement failed to migrate; its record was not changed and running the command again finishes it.',
    )
    expect(result.stderr).toMatch(
      new RegExp(
        `^Warning: ${setup.id}: Copying s3://${setup.target}/${stuck}: no answer from .* within 1 s \\(timed out\\)$`,
        'm',
      ),
    )
    expect(
      recordsOf((await readIndex(s3, setup.bucket)).json).find((record) => record.engagement_id === setup.id)
        ?.source_bucket,
    ).toBe('')
    expect(await indexVersions(setup.bucket)).toBe(before)

    const rerun = await runJson<MigrateJson>(migrateArgs(setup.id, setup.bucket))
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(rerun.json.engagements[0]).toMatchObject({status: 'migrated', objects: setup.keys.length})
    expect(rerun.json.engagements[0].copied).toBeLessThan(setup.keys.length)
    await expectMigratedOnce(setup, before)
  })
})

describe('deleting an engagement around a migration', () => {
  it('after migrate --execute and migrate rollback, engagement delete removes the per-engagement bucket too', async () => {
    const setup = await unmigrated('fm-rollback', 4)
    const migrated = await runCli(migrateArgs(setup.id, setup.bucket))
    expect(migrated.code, migrated.stderr).toBe(0)
    expect(await bucketExists(s3, setup.target)).toBe(true)
    const rollback = await runCli([
      'migrate',
      'rollback',
      '--engagement-id',
      setup.id,
      '--yes',
      '--shared-bucket',
      setup.bucket,
    ])
    expect(rollback.code, rollback.stderr).toBe(0)
    expect(
      recordsOf((await readIndex(s3, setup.bucket)).json).find((record) => record.engagement_id === setup.id)
        ?.source_bucket,
    ).toBe('')

    const deleted = await runJson<{bucket: string; bucket_name: string}>([
      'engagement',
      'delete',
      setup.id,
      '--yes',
      '--shared-bucket',
      setup.bucket,
    ])
    expect(deleted.code, deleted.stderr).toBe(0)
    expect(deleted.json).toMatchObject({bucket: 'decommissioned', bucket_name: setup.target})
    expect(await bucketExists(s3, setup.target)).toBe(false)
    // A second witness: the aws CLI finds no such bucket either.
    expect((await awsS3api(['head-bucket', '--bucket', setup.target])).code).not.toBe(0)
    expect(await keysUnder(s3, setup.bucket, `auditforge/engagements/${setup.id}/`)).toEqual([])
  })

  it('a migration that left a partial copy (provisioned, some objects copied, record not flipped): delete removes that bucket', async () => {
    const setup = await unmigrated('fm-partial', 6)
    const provisioned = await runCli(['bucket', 'provision', setup.id, '--shared-bucket', setup.bucket])
    expect(provisioned.code, provisioned.stderr).toBe(0)
    for (const key of setup.keys.slice(0, 3)) {
      await s3.send(new CopyObjectCommand({Bucket: setup.target, Key: key, CopySource: `${setup.bucket}/${key}`}))
    }
    expect((await keysUnder(s3, setup.target, '')).length).toBe(3)

    const deleted = await runJson<{bucket: string; bucket_name: string}>([
      'engagement',
      'delete',
      setup.id,
      '--yes',
      '--shared-bucket',
      setup.bucket,
    ])
    expect(deleted.code, deleted.stderr).toBe(0)
    expect(deleted.json).toMatchObject({bucket: 'decommissioned', bucket_name: setup.target})
    expect(await bucketExists(s3, setup.target)).toBe(false)
    expect(
      recordsOf((await readIndex(s3, setup.bucket)).json).some((record) => record.engagement_id === setup.id),
    ).toBe(false)
  })
})

describe('keys with control characters', () => {
  it('a key with CR and one with \\u0001 migrate exactly and pass --verify-only', async () => {
    const setup = await unmigrated('fm-control', 1)
    const hostile = [
      `auditforge/engagements/${setup.id}/source/a\rb.txt`,
      `auditforge/engagements/${setup.id}/source/c\u0001d.txt`,
    ]
    for (const key of hostile) await putRaw(s3, setup.bucket, key, `bytes of ${JSON.stringify(key)}`)
    const keys = [...setup.keys, ...hostile]

    const result = await runJson<MigrateJson>(migrateArgs(setup.id, setup.bucket))
    expect(result.code, result.stderr).toBe(0)
    expect(result.json.engagements[0]).toMatchObject({status: 'migrated', objects: 3, copied: 3})

    // The target's keys, listed URL-encoded and decoded here: exactly those, nothing normalised.
    const listed = await s3.send(
      new ListObjectsV2Command({
        Bucket: setup.target,
        Prefix: `auditforge/engagements/${setup.id}/`,
        EncodingType: 'url',
      }),
    )
    const decoded = (listed.Contents ?? []).map((object) => decodeURIComponent(object.Key!.replace(/\+/g, ' ')))
    expect(decoded.sort()).toEqual([...keys].sort())
    for (const key of hostile) {
      const head = await s3.send(new HeadObjectCommand({Bucket: setup.target, Key: key}))
      expect(head.ContentLength).toBe(Buffer.byteLength(`bytes of ${JSON.stringify(key)}`))
      expect(await getTextOf(s3, setup.target, key)).toBe(`bytes of ${JSON.stringify(key)}`)
    }

    const verify = await runJson<MigrateJson>([
      'migrate',
      '--verify-only',
      '--engagement-id',
      setup.id,
      '--shared-bucket',
      setup.bucket,
    ])
    expect(verify.code, verify.stderr).toBe(0)
    expect(verify.json.engagements[0]).toMatchObject({status: 'verified', objects: 3})
  })
})
