/**
 * `engagement create` (shared and --isolated) and `engagement delete` (an own bucket and a
 * shared-bucket engagement) under injected faults: throttling and 500s that the SDK's retries
 * absorb, answers lost after the write landed (no duplicate record, no duplicate audit event, no
 * false conflict), and half-open writes that fail in bounded time with one `Error:` line and
 * leave a state a plain re-run (straight to moto) completes exactly. State is read with the SDK
 * straight from moto.
 */
import {describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {
  auditShardKey,
  bucketExists,
  expectedBucketName,
  listAllVersions,
  makeManagedBucket,
  putIndex,
  putRaw,
  randomEngagementId,
  readIndex,
  recordsOf,
  seedRecord,
} from '../helpers/commands.js'
import {
  auditEvents,
  bounded,
  bucketPath,
  exactly,
  expectFullyProvisioned,
  expectOneErrorLine,
  pathOf,
  useFaultProxy,
} from '../helpers/faults.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

const s3 = testS3()
const proxied = useFaultProxy()
const {faulted} = proxied

interface Created {
  engagement_id: string
  source_bucket: string
}

/** A shared bucket whose index already holds another engagement (so index writes are If-Match). */
async function sharedWithIndex(stem: string): Promise<{bucket: string; other: string}> {
  const bucket = await createSharedBucket(s3, stem)
  const other = randomEngagementId()
  await putIndex(s3, bucket, {engagements: [seedRecord(other)]})
  return {bucket, other}
}

/** The run's record is in the index exactly once, next to the others, and has one created event. */
async function expectCreatedOnce(bucket: string, created: Created, others: string[]): Promise<void> {
  const ids = recordsOf((await readIndex(s3, bucket)).json).map((record) => record.engagement_id)
  expect(ids.sort()).toEqual([...others, created.engagement_id].sort())
  const events = await auditEvents(s3, created.source_bucket || bucket, created.engagement_id)
  expect(events.map((event) => event.event)).toEqual(['engagement.created'])
  expect(events[0].event_id).toMatch(/^[0-9a-f-]{36}$/)
}

describe('engagement create under faults', () => {
  it('--isolated: SlowDown on every 2nd write is absorbed; one record, one event, every control and the binding', async () => {
    const {bucket, other} = await sharedWithIndex('fc-slow')
    const result = await proxied.run(
      ['engagement', 'create', '--name', 'Throttled', '--isolated', '--shared-bucket', bucket, '--json'],
      {
        mode: 'slowdown',
        every: 2,
        match: {method: 'PUT'},
      },
    )
    expect(result.code, result.stderr).toBe(0)
    const created = JSON.parse(result.stdout) as Created
    expect(created.source_bucket).toBe(expectedBucketName(created.engagement_id))
    // Bucket controls, the index and the audit log each met a SlowDown at least once.
    expect(faulted().length).toBeGreaterThanOrEqual(4)
    await expectCreatedOnce(bucket, created, [other])
    await expectFullyProvisioned(s3, created.source_bucket, created.engagement_id, bucket)
  })

  it('500s at a seeded rate on every write are absorbed', async () => {
    const {bucket, other} = await sharedWithIndex('fc-500')
    const result = await proxied.run(['engagement', 'create', '--name', 'Flaky', '--shared-bucket', bucket, '--json'], {
      mode: 'internal-error',
      rate: 0.5,
      seed: 3,
      match: {method: 'PUT'},
    })
    expect(result.code, result.stderr).toBe(0)
    expect(faulted().length).toBeGreaterThanOrEqual(1)
    await expectCreatedOnce(bucket, JSON.parse(result.stdout) as Created, [other])
  })

  it.each([
    ['the index write', /\/auditforge\/engagements\.json$/],
    ['the audit-log write', /\/audit_log\/shard-\d{5}\.jsonl$/],
  ])('--isolated: the answer to %s is lost after it landed: no duplicate, no false conflict', async (_, path) => {
    const {bucket, other} = await sharedWithIndex('fc-lost')
    const result = await proxied.run(
      ['engagement', 'create', '--name', 'Lost answer', '--isolated', '--shared-bucket', bucket, '--json'],
      {
        mode: 'reset',
        resetIn: 'head',
        limit: 1,
        match: {method: 'PUT', path},
      },
    )
    expect(result.code, result.stderr).toBe(0)
    expect(faulted()).toHaveLength(1)
    const created = JSON.parse(result.stdout) as Created
    // Nothing on stderr but the one warning every isolated create on a plain-http server gives.
    expect(result.stderr).toBe(
      `Warning: tls-only was not applied to ${created.source_bucket}: plain-http endpoint: every request would be denied\n`,
    )
    await expectCreatedOnce(bucket, created, [other])
    await expectFullyProvisioned(s3, created.source_bucket, created.engagement_id, bucket)
  })

  it('the first index write of a new index (If-None-Match) loses its answer: one record', async () => {
    const bucket = await createSharedBucket(s3, 'fc-new-index')
    const result = await proxied.run(['engagement', 'create', '--name', 'First', '--shared-bucket', bucket, '--json'], {
      mode: 'reset',
      resetIn: 'head',
      limit: 1,
      match: {method: 'PUT', path: /engagements\.json$/},
    })
    expect(result.code, result.stderr).toBe(0)
    expect(faulted()).toHaveLength(1)
    await expectCreatedOnce(bucket, JSON.parse(result.stdout) as Created, [])
    expect((await listAllVersions(s3, bucket, 'auditforge/engagements.json')).length).toBe(1)
  })

  it('--isolated: a half-open index write fails in bounded time with one line, removes the new bucket; a re-run completes', async () => {
    const {bucket, other} = await sharedWithIndex('fc-hole')
    const started = Date.now()
    const result = await proxied.run(
      ['engagement', 'create', '--name', 'Half-open', '--isolated', '--shared-bucket', bucket],
      {mode: 'blackhole', match: {method: 'PUT', path: /engagements\.json$/}},
      bounded,
    )
    expect(Date.now() - started).toBeLessThan(20_000)
    const line = expectOneErrorLine(result)
    expect(line).toMatch(
      /^Error: Writing the engagement index s3:\/\/.*: no answer from .* within 1 s \(timed out\); the new bucket (metis-af-[0-9a-f]{12}-\d{12}) was removed again$/,
    )
    const leftover = /the new bucket (\S+) was removed again/.exec(line)![1]
    expect(await bucketExists(s3, leftover)).toBe(false)
    expect(recordsOf((await readIndex(s3, bucket)).json).map((record) => record.engagement_id)).toEqual([other])

    const rerun = await runJson<Created>([
      'engagement',
      'create',
      '--name',
      'Half-open',
      '--isolated',
      '--shared-bucket',
      bucket,
    ])
    expect(rerun.code, rerun.stderr).toBe(0)
    await expectCreatedOnce(bucket, rerun.json, [other])
    await expectFullyProvisioned(s3, rerun.json.source_bucket, rerun.json.engagement_id, bucket)
  })

  it('--isolated: a half-open tagging write fails with one line and leaves no bucket behind', async () => {
    const {bucket, other} = await sharedWithIndex('fc-hole-tags')
    const result = await proxied.run(
      ['engagement', 'create', '--name', 'Half-open tags', '--isolated', '--shared-bucket', bucket],
      {mode: 'blackhole', match: {method: 'PUT', query: 'tagging'}},
      bounded,
    )
    const line = expectOneErrorLine(result)
    const leftover = /the new bucket (\S+) was removed again/.exec(line)?.[1]
    expect(leftover, line).toBeDefined()
    expect(await bucketExists(s3, leftover!)).toBe(false)
    expect(recordsOf((await readIndex(s3, bucket)).json).map((record) => record.engagement_id)).toEqual([other])
  })
})

/** A shared-bucket engagement with keys of its own, and someone else's look-alike key. */
async function sharedEngagement(stem: string) {
  const bucket = await createSharedBucket(s3, stem)
  const id = randomEngagementId()
  const other = randomEngagementId()
  await putIndex(s3, bucket, {engagements: [seedRecord(id), seedRecord(other)]})
  const own = [
    `auditforge/engagements/${id}/findings.json`,
    auditShardKey(id),
    `auditforge/deliverables/${id}.json`,
    `auditforge/engagements/${id}/source/a.txt`,
  ]
  for (const key of own) {
    await putRaw(s3, bucket, key, `${key} v1`)
    await putRaw(s3, bucket, key, `${key} v2`)
  }
  const othersKey = `auditforge/deliverables/${id}0.json`
  await putRaw(s3, bucket, othersKey, 'not theirs')
  return {bucket, id, other, othersKey}
}

/** An isolated engagement: its bound bucket with objects, its record pointing there, keys in the shared bucket too. */
async function isolatedEngagement(stem: string) {
  const {bucket, id, other, othersKey} = await sharedEngagement(stem)
  const own = await makeManagedBucket(s3, id, bucket)
  await putIndex(s3, bucket, {engagements: [seedRecord(id, {source_bucket: own}), seedRecord(other)]})
  for (let i = 0; i < 5; i++) {
    await putRaw(s3, own, `auditforge/engagements/${id}/source/doc-${i}.txt`, `doc ${i}`)
    await putRaw(s3, own, `auditforge/engagements/${id}/source/doc-${i}.txt`, `doc ${i} v2`)
  }
  return {bucket, id, other, othersKey, own}
}

/** Deleted exactly: the record gone (the other kept), no version of its keys left, the look-alike kept, its bucket gone. */
async function expectDeleted(setup: {
  bucket: string
  id: string
  other: string
  othersKey: string
  own?: string
}): Promise<void> {
  expect(recordsOf((await readIndex(s3, setup.bucket)).json).map((record) => record.engagement_id)).toEqual([
    setup.other,
  ])
  const left = (await listAllVersions(s3, setup.bucket)).map((version) => version.key)
  expect(left.filter((key) => key.includes(setup.id) && key !== setup.othersKey)).toEqual([])
  expect(left).toContain(setup.othersKey)
  expect(await bucketExists(s3, setup.own ?? expectedBucketName(setup.id))).toBe(false)
}

describe('engagement delete under faults', () => {
  it('own bucket: SlowDown on every 2nd DeleteObjects / DeleteBucket / index write is absorbed', async () => {
    const setup = await isolatedEngagement('fd-slow')
    const result = await proxied.run(
      ['engagement', 'delete', setup.id, '--yes', '--shared-bucket', setup.bucket, '--json'],
      {
        mode: 'slowdown',
        every: 2,
        match: (request) =>
          (request.method === 'POST' && /(^|&)delete(=|&|$)/.test(request.query)) ||
          request.method === 'DELETE' ||
          request.method === 'PUT',
      },
    )
    expect(result.code, result.stderr).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({bucket: 'decommissioned', bucket_name: setup.own})
    expect(faulted().length).toBeGreaterThanOrEqual(2)
    await expectDeleted(setup)
  })

  it('shared bucket: the answers of DeleteObjects and of the index write are lost after they landed', async () => {
    const setup = await sharedEngagement('fd-lost')
    // The first DeleteObjects and the first index write land, and their answers are lost.
    proxied.proxy.set({
      mode: 'reset',
      resetIn: 'head',
      every: 1,
      match: (request) =>
        (request.method === 'POST' &&
          new URLSearchParams(request.query).has('delete') &&
          !proxied.proxy.log.some((seen) => seen.fault && seen.method === 'POST')) ||
        (request.method === 'PUT' &&
          request.path.endsWith('/auditforge/engagements.json') &&
          !proxied.proxy.log.some((seen) => seen.fault && seen.method === 'PUT')),
    })
    const result = await runCli(
      ['engagement', 'delete', setup.id, '--yes', '--shared-bucket', setup.bucket, '--json'],
      {
        env: {AWS_ENDPOINT_URL: proxied.proxy.endpoint},
      },
    )
    expect(faulted().map((entry) => entry.method)).toEqual(['POST', 'PUT'])
    expect(result.code, result.stderr).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({engagement_id: setup.id, bucket: null})
    await expectDeleted(setup)
  })

  it('shared bucket: a half-open index write fails with one line after the keys went; a re-run completes', async () => {
    const setup = await sharedEngagement('fd-hole')
    const started = Date.now()
    const result = await proxied.run(
      ['engagement', 'delete', setup.id, '--yes', '--shared-bucket', setup.bucket],
      {mode: 'blackhole', match: {method: 'PUT', path: exactly(pathOf(setup.bucket, 'auditforge/engagements.json'))}},
      bounded,
    )
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(expectOneErrorLine(result)).toMatch(
      /^Error: Writing the engagement index s3:\/\/fd-hole-[0-9a-f]+: no answer from .* within 1 s \(timed out\)$/,
    )
    expect(
      recordsOf((await readIndex(s3, setup.bucket)).json)
        .map((record) => record.engagement_id)
        .sort(),
    ).toEqual([setup.id, setup.other].sort())

    const rerun = await runCli(['engagement', 'delete', setup.id, '--yes', '--shared-bucket', setup.bucket])
    expect(rerun.code, rerun.stderr).toBe(0)
    await expectDeleted(setup)
  })

  it('own bucket: a half-open DeleteObjects in it fails the cleanup only; the printed retry completes it', async () => {
    const setup = await isolatedEngagement('fd-hole-own')
    const result = await proxied.run(
      ['engagement', 'delete', setup.id, '--yes', '--shared-bucket', setup.bucket],
      {mode: 'blackhole', match: {method: 'POST', path: bucketPath(setup.own), query: 'delete'}},
      bounded,
    )
    // Decommissioning is best-effort: the deletion stands, the failure is one warning with the retry.
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toContain(`Warning: The engagement is deleted, but its bucket was not:`)
    expect(result.stderr).toContain(`Retry with: auditforge bucket decommission ${setup.own} --yes`)
    expect(await bucketExists(s3, setup.own)).toBe(true)

    const retry = await runCli(['bucket', 'decommission', setup.own, '--yes', '--shared-bucket', setup.bucket])
    expect(retry.code, retry.stderr).toBe(0)
    await expectDeleted(setup)
  })

  it('own bucket: a half-open DeleteObjects in the shared bucket fails with one line, nothing of the record lost; a re-run completes', async () => {
    const setup = await isolatedEngagement('fd-hole-shared')
    const result = await proxied.run(
      ['engagement', 'delete', setup.id, '--yes', '--shared-bucket', setup.bucket],
      {mode: 'blackhole', match: {method: 'POST', path: bucketPath(setup.bucket), query: 'delete'}},
      bounded,
    )
    expect(expectOneErrorLine(result)).toMatch(
      /^Error: Deleting objects s3:\/\/fd-hole-shared-[0-9a-f]+: no answer from .* within 1 s \(timed out\)$/,
    )
    expect(
      recordsOf((await readIndex(s3, setup.bucket)).json)
        .map((record) => record.engagement_id)
        .sort(),
    ).toEqual([setup.id, setup.other].sort())
    expect(await bucketExists(s3, setup.own)).toBe(true)

    const rerun = await runJson(['engagement', 'delete', setup.id, '--yes', '--shared-bucket', setup.bucket])
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(rerun.json).toMatchObject({bucket: 'decommissioned'})
    await expectDeleted(setup)
  })
})
