/**
 * `audit-log export --delivery signed_url` under injected faults, and two exports at the same
 * moment. Throttling and 500s on the upload (single PutObject and multipart) and on the custody
 * append are absorbed; an answer lost after the export or its custody event landed gives no
 * second export object, no second custody event and no false conflict; a half-open upload fails
 * in bounded time with one `Error:` line and leaves nothing a plain re-run cannot complete.
 * Every export is checked with the SDK straight from moto and by downloading its URL.
 */
import {
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {runJson} from '../helpers/cli.js'
import {auditShardKey, putIndex, randomEngagementId, seedRecord} from '../helpers/commands.js'
import {auditEvents, bounded, expectOneErrorLine, useFaultProxy} from '../helpers/faults.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

interface SignedUrlJson {
  signed_url: string
  size_bytes: number
  event_count: number
  s3_bucket: string
  s3_key: string
  version_id: string
}

const s3 = testS3()
const proxied = useFaultProxy()
const {faulted} = proxied

const exportsPrefix = 'auditforge/exports/'

function exportArgs(id: string, bucket: string): string[] {
  return ['audit-log', 'export', id, '--delivery', 'signed_url', '--shared-bucket', bucket]
}

/** A shared-bucket engagement whose audit log holds `lines` events (a line of `pad` bytes each). */
async function withLog(stem: string, lines = 3, pad = 40): Promise<{bucket: string; id: string; log: string}> {
  const bucket = await createSharedBucket(s3, stem)
  const id = randomEngagementId()
  await putIndex(s3, bucket, {engagements: [seedRecord(id)]})
  const log = Array.from(
    {length: lines},
    (_, n) => `${JSON.stringify({event: 'finding.updated', engagement_id: id, seq: n, detail: 'x'.repeat(pad)})}\n`,
  ).join('')
  await s3.send(
    new PutObjectCommand({Bucket: bucket, Key: auditShardKey(id), Body: log, ContentType: 'application/x-ndjson'}),
  )
  return {bucket, id, log}
}

/** Every version under the exports prefix, and unfinished multipart uploads there. */
async function exportVersions(bucket: string): Promise<{key: string; versionId: string}[]> {
  const uploads = await s3.send(new ListMultipartUploadsCommand({Bucket: bucket, Prefix: exportsPrefix}))
  expect(uploads.Uploads ?? []).toEqual([])
  const reply = await s3.send(new ListObjectVersionsCommand({Bucket: bucket, Prefix: exportsPrefix}))
  expect(reply.DeleteMarkers ?? []).toEqual([])
  return (reply.Versions ?? []).map((version) => ({key: version.Key!, versionId: version.VersionId!}))
}

async function download(url: string): Promise<string> {
  const reply = await fetch(url)
  expect(reply.status).toBe(200)
  return reply.text()
}

/**
 * Exactly the given exports exist (one version each), each URL downloads its own bytes, and the
 * audit log holds one custody event per export with its key, version, ETag and size.
 */
async function expectExports(bucket: string, id: string, exports: SignedUrlJson[], log: string): Promise<void> {
  expect((await exportVersions(bucket)).sort((a, b) => a.key.localeCompare(b.key))).toEqual(
    exports.map((item) => ({key: item.s3_key, versionId: item.version_id})).sort((a, b) => a.key.localeCompare(b.key)),
  )
  const custody = (await auditEvents(s3, bucket, id)).filter((event) => event.event === 'audit_log.exported')
  expect(custody).toHaveLength(exports.length)
  expect(new Set(custody.map((event) => event.event_id)).size).toBe(exports.length)
  for (const item of exports) {
    const head = await s3.send(new HeadObjectCommand({Bucket: bucket, Key: item.s3_key}))
    expect(head.ContentLength).toBe(item.size_bytes)
    const own = custody.filter((event) => event.s3_key === item.s3_key)
    expect(own).toHaveLength(1)
    expect(own[0]).toMatchObject({version_id: head.VersionId, etag: head.ETag, size_bytes: item.size_bytes})
    const body = await download(item.signed_url)
    expect(body.length).toBe(item.size_bytes)
    expect(body.startsWith(log)).toBe(true)
  }
}

describe('audit-log export --delivery signed_url under faults', () => {
  it('SlowDown on every 2nd write (the export and the custody event) is absorbed', async () => {
    const {bucket, id, log} = await withLog('fe-slow')
    const result = await proxied.run([...exportArgs(id, bucket), '--json'], {
      mode: 'slowdown',
      every: 2,
      match: {method: 'PUT'},
    })
    expect(result.code, result.stderr + result.stdout).toBe(0)
    expect(faulted().length).toBeGreaterThanOrEqual(1)
    await expectExports(bucket, id, [JSON.parse(result.stdout) as SignedUrlJson], log)
  })

  it('a multipart export (over one 8 MiB part): 500s at a seeded rate on its parts and completion are absorbed', async () => {
    const {bucket, id, log} = await withLog('fe-parts', 9_000, 1_000)
    const result = await proxied.run([...exportArgs(id, bucket), '--json'], {
      mode: 'internal-error',
      rate: 0.5,
      seed: 2,
      match: {query: 'uploadId'},
    })
    expect(result.code, result.stderr + result.stdout).toBe(0)
    expect(proxied.proxy.log.some((entry) => new URLSearchParams(entry.query).has('uploads'))).toBe(true)
    expect(faulted().length).toBeGreaterThanOrEqual(1)
    const exported = JSON.parse(result.stdout) as SignedUrlJson
    expect(exported.size_bytes).toBe(Buffer.byteLength(log))
    await expectExports(bucket, id, [exported], log)
  })

  it('the answer to the export upload is lost after it landed: one export, one custody event, no false conflict', async () => {
    const {bucket, id, log} = await withLog('fe-lost')
    const result = await proxied.run([...exportArgs(id, bucket), '--json'], {
      mode: 'reset',
      resetIn: 'head',
      limit: 1,
      match: {method: 'PUT', path: /\/auditforge\/exports\//},
    })
    expect(faulted()).toHaveLength(1)
    expect(result.code, result.stderr + result.stdout).toBe(0)
    await expectExports(bucket, id, [JSON.parse(result.stdout) as SignedUrlJson], log)
  })

  it('the answer to the multipart completion is lost after it landed: one export, no false conflict', async () => {
    const {bucket, id, log} = await withLog('fe-lost-complete', 9_000, 1_000)
    const result = await proxied.run([...exportArgs(id, bucket), '--json'], {
      mode: 'reset',
      resetIn: 'head',
      limit: 1,
      match: {method: 'POST', query: 'uploadId'},
    })
    expect(faulted()).toHaveLength(1)
    expect(result.code, result.stderr + result.stdout).toBe(0)
    await expectExports(bucket, id, [JSON.parse(result.stdout) as SignedUrlJson], log)
  })

  it('the answer to the custody append is lost after it landed: one custody event', async () => {
    const {bucket, id, log} = await withLog('fe-lost-custody')
    const result = await proxied.run([...exportArgs(id, bucket), '--json'], {
      mode: 'reset',
      resetIn: 'head',
      limit: 1,
      match: {method: 'PUT', path: /\/audit_log\/shard-\d{5}\.jsonl$/},
    })
    expect(faulted()).toHaveLength(1)
    expect(result.code, result.stderr + result.stdout).toBe(0)
    await expectExports(bucket, id, [JSON.parse(result.stdout) as SignedUrlJson], log)
  })

  it('a half-open export upload fails with one line in bounded time, leaves no export; a re-run completes', async () => {
    const {bucket, id, log} = await withLog('fe-hole')
    const started = Date.now()
    const result = await proxied.run(
      exportArgs(id, bucket),
      {mode: 'blackhole', match: {method: 'PUT', path: /\/auditforge\/exports\//}},
      bounded,
    )
    expect(Date.now() - started).toBeLessThan(15_000)
    expect(expectOneErrorLine(result)).toMatch(
      /^Error: Uploading the export s3:\/\/.*\/auditforge\/exports\/.*: no answer from .* within 1 s \(timed out\)$/,
    )
    expect(await exportVersions(bucket)).toEqual([])
    expect((await auditEvents(s3, bucket, id)).filter((event) => event.event === 'audit_log.exported')).toEqual([])

    const rerun = await runJson<SignedUrlJson>(exportArgs(id, bucket))
    expect(rerun.code, rerun.stderr).toBe(0)
    await expectExports(bucket, id, [rerun.json], log)
  })
})

describe('concurrent exports', () => {
  it('two exports at the same moment get distinct keys, versions, URLs and custody events', async () => {
    const {bucket, id, log} = await withLog('fe-concurrent', 20)
    const runs = await Promise.all([
      runJson<SignedUrlJson>(exportArgs(id, bucket)),
      runJson<SignedUrlJson>(exportArgs(id, bucket)),
    ])
    for (const run of runs) expect(run.code, run.stderr).toBe(0)
    const [first, second] = runs.map((run) => run.json)
    expect(first.s3_key).not.toBe(second.s3_key)
    expect(first.signed_url).not.toBe(second.signed_url)
    await expectExports(bucket, id, [first, second], log)
  })
})
