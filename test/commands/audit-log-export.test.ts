/**
 * `auditforge audit-log export` end to end: the built CLI as a subprocess against moto, every
 * test with its own fresh shared bucket, S3 state read back through the SDK (never the CLI) and
 * signed URLs downloaded with plain fetch.
 */
import {spawn} from 'node:child_process'
import {mkdtemp, readFile, readdir, rm, writeFile} from 'node:fs/promises'
import {type AddressInfo} from 'node:net'
import {createServer} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import {GetCallerIdentityCommand, STSClient} from '@aws-sdk/client-sts'
import {describe, expect, inject, it} from 'vitest'

import {baseEnv, binPath, runCli, runJson} from '../helpers/cli.js'
import {createSharedBucket, motoAccountId, testS3} from '../helpers/s3.js'

interface SignedUrlJson {
  engagement_id: string
  format: string
  signed_url: string | null
  size_bytes: number
  shard_count: number
  event_count: number
  expires_in: number
  expires_at: string | null
  s3_bucket: string | null
  s3_key: string | null
  version_id: string | null
  empty: boolean
  warning?: string
}

const s3: S3Client = testS3()
const indexKey = 'auditforge/engagements.json'
const exportsPrefix = 'auditforge/exports/'

function engagementId(): string {
  return `eng-${Math.random().toString(16).slice(2, 14).padEnd(12, '0')}`
}

const logPrefix = (id: string) => `auditforge/engagements/${id}/audit_log/`
const shardKey = (id: string, n: number) => `${logPrefix(id)}shard-${String(n).padStart(5, '0')}.jsonl`

/** Writes the index by hand, with records as the platform stores them (no audit log at all). */
async function putEngagements(bucket: string, ids: string[], extra: Record<string, unknown> = {}): Promise<void> {
  const engagements = ids.map((id) => ({
    engagement_id: id,
    name: `Export ${id}`,
    client_id: 'acme',
    created_at: '2025-01-02T03:04:05Z',
    source_bucket: '',
    findings_key: `auditforge/engagements/${id}/findings.json`,
    audit_log_key: logPrefix(id),
    ...extra,
  }))
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: indexKey,
      Body: JSON.stringify({engagements}, null, 2),
      ContentType: 'application/json',
    }),
  )
}

async function putShard(bucket: string, id: string, n: number, body: string): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: shardKey(id, n),
      Body: Buffer.from(body, 'utf8'),
      ContentType: 'application/x-ndjson',
    }),
  )
}

/** A fresh shared bucket with one engagement whose shards are the given bodies, in order. */
async function seeded(shards: string[], stem = 'export'): Promise<{bucket: string; id: string}> {
  const bucket = await createSharedBucket(s3, stem)
  const id = engagementId()
  await putEngagements(bucket, [id])
  await Promise.all(shards.map((body, n) => putShard(bucket, id, n, body)))
  return {bucket, id}
}

/** What a jsonl export of these shards must be: the bytes, a newline added where one is missing. */
function expectedJsonl(shards: string[]): Buffer {
  return Buffer.from(shards.map((body) => (body === '' || body.endsWith('\n') ? body : `${body}\n`)).join(''), 'utf8')
}

const event = (n: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    event: 'llm.call',
    timestamp: `2025-01-02T03:04:${String(n % 60).padStart(2, '0')}Z`,
    engagement_id: 'x',
    actor: 'arn:test',
    seq: n,
    ...extra,
  })

async function keysUnder(bucket: string, prefix: string): Promise<string[]> {
  const reply = await s3.send(new ListObjectsV2Command({Bucket: bucket, Prefix: prefix}))
  return (reply.Contents ?? []).map((object) => object.Key!)
}

/** Every version and delete marker under the exports prefix, and any unfinished multipart upload. */
async function exportTraces(bucket: string): Promise<string[]> {
  const versions = await s3.send(new ListObjectVersionsCommand({Bucket: bucket, Prefix: exportsPrefix}))
  const uploads = await s3.send(new ListMultipartUploadsCommand({Bucket: bucket, Prefix: exportsPrefix}))
  return [
    ...(versions.Versions ?? []).map((version) => `version ${version.Key}`),
    ...(versions.DeleteMarkers ?? []).map((marker) => `delete marker ${marker.Key}`),
    ...(uploads.Uploads ?? []).map((upload) => `upload ${upload.Key}`),
  ]
}

/** The engagement's audit log as stored: every shard's text, in shard order. */
async function auditLogText(bucket: string, id: string): Promise<string> {
  const keys = (await keysUnder(bucket, logPrefix(id))).sort()
  const texts = await Promise.all(
    keys.map(async (key) =>
      (await s3.send(new GetObjectCommand({Bucket: bucket, Key: key}))).Body!.transformToString('utf8'),
    ),
  )
  return texts.join('')
}

async function download(url: string): Promise<Buffer> {
  const reply = await fetch(url)
  expect(
    reply.status,
    await reply
      .clone()
      .text()
      .catch(() => ''),
  ).toBe(200)
  return Buffer.from(await reply.arrayBuffer())
}

/**
 * Runs the CLI with the AWS endpoint pointed at a local HTTP server of its own that records every
 * request: a command that must fail before any AWS call leaves it with none.
 */
async function runTrapped(args: string[]) {
  const hits: string[] = []
  const server = createServer((request, response) => {
    hits.push(`${request.method} ${request.url}`)
    response.statusCode = 500
    response.end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as AddressInfo
  try {
    const started = Date.now()
    const result = await runCli(args, {env: {AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`}, timeout: 20_000})
    return {...result, awsCalls: hits, ms: Date.now() - started}
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}

describe.concurrent("audit-log export: input checks (the seed's 422s), before any AWS call", () => {
  it('an invalid --delivery is exit 2 with nothing on stdout', async () => {
    const result = await runTrapped([
      'audit-log',
      'export',
      'eng-abc123',
      '--delivery',
      'ftp',
      '--shared-bucket',
      'any-bucket',
    ])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('--delivery')
    expect(result.awsCalls).toEqual([])
  })

  it('an invalid --format is exit 2', async () => {
    const result = await runTrapped([
      'audit-log',
      'export',
      'eng-abc123',
      '--format',
      'csv',
      '--shared-bucket',
      'any-bucket',
    ])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.awsCalls).toEqual([])
  })

  it.each(['59', '3601', 'abc', '600.5', '0'])(
    '--expires-in %s is exit 2, quickly and without touching AWS',
    async (value) => {
      const result = await runTrapped([
        'audit-log',
        'export',
        'eng-abc123',
        '--delivery',
        'signed_url',
        '--expires-in',
        value,
        '--shared-bucket',
        'any-bucket',
      ])
      expect(result.code).toBe(2)
      expect(result.stdout).toBe('')
      expect(result.stderr).toContain('expires-in')
      expect(result.awsCalls).toEqual([])
      expect(result.ms).toBeLessThan(10_000)
    },
  )

  it('--json with --delivery stream and no --output is exit 2 (stdout would carry the log)', async () => {
    const result = await runTrapped(['audit-log', 'export', 'eng-abc123', '--json', '--shared-bucket', 'any-bucket'])
    expect(result.code).toBe(2)
    const error = JSON.parse(result.stdout) as {error: {exit: number; message: string}}
    expect(error.error.exit).toBe(2)
    expect(error.error.message).toContain('--output')
    expect(result.awsCalls).toEqual([])
  })

  it('--output into a folder that does not exist is exit 2', async () => {
    const folder = join(tmpdir(), `missing-${Math.random().toString(16).slice(2)}`, 'deeper')
    const result = await runTrapped([
      'audit-log',
      'export',
      'eng-abc123',
      '--output',
      join(folder, 'log.jsonl'),
      '--shared-bucket',
      'any-bucket',
    ])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('does not exist')
    expect(result.awsCalls).toEqual([])
  })
})

describe.concurrent('audit-log export: the seed cases on moto', () => {
  it('an unknown engagement is exit 3', async () => {
    const {bucket} = await seeded(['{"n":0}\n'])
    const missing = engagementId()
    const result = await runCli(['audit-log', 'export', missing, '--shared-bucket', bucket])
    expect(result.code).toBe(3)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain(missing)
    const json = await runJson<{error: {exit: number}}>([
      'audit-log',
      'export',
      missing,
      '--delivery',
      'signed_url',
      '--shared-bucket',
      bucket,
    ])
    expect(json.code).toBe(3)
    expect(json.json.error.exit).toBe(3)
    expect(await exportTraces(bucket)).toEqual([])
  })

  it('an empty audit log short-circuits: signed_url null, empty, size 0, nothing uploaded', async () => {
    const {bucket, id} = await seeded([])
    const result = await runJson<SignedUrlJson>([
      'audit-log',
      'export',
      id,
      '--delivery',
      'signed_url',
      '--shared-bucket',
      bucket,
    ])
    expect(result.code).toBe(0)
    expect(result.json).toMatchObject({
      engagement_id: id,
      signed_url: null,
      empty: true,
      size_bytes: 0,
      event_count: 0,
      shard_count: 0,
    })
    expect(await exportTraces(bucket)).toEqual([])
    // No URL was issued, so no custody event (and no audit log) was written either.
    expect(await keysUnder(bucket, logPrefix(id))).toEqual([])
  })

  it('happy path: a seeded shard streams to stdout as stored and exports behind a signed URL', async () => {
    const shard = `${event(0)}\n${event(1)}\n`
    const {bucket, id} = await seeded([shard])

    const streamed = await runCli(['audit-log', 'export', id, '--shared-bucket', bucket])
    expect(streamed.code).toBe(0)
    expect(streamed.stdout).toBe(shard)

    const before = Date.now()
    const result = await runJson<SignedUrlJson>([
      'audit-log',
      'export',
      id,
      '--delivery',
      'signed_url',
      '--shared-bucket',
      bucket,
    ])
    expect(result.code).toBe(0)
    expect(result.json).toMatchObject({
      engagement_id: id,
      format: 'jsonl',
      size_bytes: Buffer.byteLength(shard),
      shard_count: 1,
      event_count: 2,
      expires_in: 600,
      s3_bucket: bucket,
      empty: false,
    })
    expect(result.json.s3_key).toMatch(
      new RegExp(`^auditforge/exports/${id}-\\d{8}T\\d{6}\\.\\d{3}Z-[0-9a-f]{6}\\.jsonl$`),
    )
    const expiresAt = Date.parse(result.json.expires_at!)
    expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 600_000)
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 600_000)
    expect((await download(result.json.signed_url!)).toString('utf8')).toBe(shard)
  })
})

describe.concurrent('audit-log export: payloads', () => {
  it('jsonl round-trips byte for byte through the signed URL, pinned to the uploaded version', async () => {
    const shards = [
      `${event(0, {msg: 'Grüße aus Köln'})}\n${event(1)}\n`,
      `${event(2, {msg: '漢字 and 🎉 emoji'})}`,
      `${event(3)}\n\n${event(4, {msg: 'tab\tand "quotes" and \\u escapes \u2028'})}\n`,
      `${event(5, {msg: 'ﬁnal 𝄞'})}\n${event(6)}`,
    ]
    const {bucket, id} = await seeded(shards)
    const expected = expectedJsonl(shards)

    const result = await runJson<SignedUrlJson>([
      'audit-log',
      'export',
      id,
      '--delivery',
      'signed_url',
      '--expires-in',
      '900',
      '--shared-bucket',
      bucket,
    ])
    expect(result.code).toBe(0)
    expect(result.json).toMatchObject({size_bytes: expected.length, shard_count: 4, event_count: 7, expires_in: 900})

    const downloaded = await download(result.json.signed_url!)
    expect(downloaded.equals(expected)).toBe(true)

    const head = await s3.send(new HeadObjectCommand({Bucket: bucket, Key: result.json.s3_key!}))
    expect(head.VersionId).toBeTruthy()
    expect(result.json.version_id).toBe(head.VersionId)
    expect(head.ContentLength).toBe(expected.length)
    const url = new URL(result.json.signed_url!)
    expect(url.searchParams.get('versionId')).toBe(head.VersionId)
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900')

    // The pinned URL keeps serving this export even after the key gets a newer version.
    await s3.send(new PutObjectCommand({Bucket: bucket, Key: result.json.s3_key!, Body: 'overwritten'}))
    expect((await download(result.json.signed_url!)).equals(expected)).toBe(true)
  })

  it('orders more than 10 shards by shard number, created in shuffled order, in jsonl and json', async () => {
    const count = 13
    const bodies = Array.from(
      {length: count},
      (_, n) => `${event(2 * n)}\n${event(2 * n + 1)}${n % 3 === 0 ? '' : '\n'}`,
    )
    const bucket = await createSharedBucket(s3, 'order')
    const id = engagementId()
    await putEngagements(bucket, [id])
    const shuffled = [7, 12, 0, 3, 10, 1, 11, 5, 9, 2, 8, 4, 6]
    expect([...shuffled].sort((a, b) => a - b)).toEqual(Array.from({length: count}, (_, n) => n))
    for (const n of shuffled) await putShard(bucket, id, n, bodies[n])

    const jsonl = await runCli(['audit-log', 'export', id, '--shared-bucket', bucket])
    expect(jsonl.code).toBe(0)
    expect(jsonl.stdout).toBe(expectedJsonl(bodies).toString('utf8'))
    const sequence = jsonl.stdout
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as {seq: number}).seq)
    expect(sequence).toEqual(Array.from({length: 2 * count}, (_, n) => n))

    const json = await runCli(['audit-log', 'export', id, '--format', 'json', '--shared-bucket', bucket])
    expect(json.code).toBe(0)
    expect((JSON.parse(json.stdout) as {seq: number}[]).map((entry) => entry.seq)).toEqual(
      Array.from({length: 2 * count}, (_, n) => n),
    )

    const signed = await runJson<SignedUrlJson>([
      'audit-log',
      'export',
      id,
      '--format',
      'json',
      '--delivery',
      'signed_url',
      '--shared-bucket',
      bucket,
    ])
    expect(signed.json).toMatchObject({shard_count: count, event_count: 2 * count, format: 'json'})
    expect(signed.json.s3_key).toMatch(/\.json$/)
    const downloaded = JSON.parse((await download(signed.json.signed_url!)).toString('utf8')) as {seq: number}[]
    expect(downloaded.map((entry) => entry.seq)).toEqual(Array.from({length: 2 * count}, (_, n) => n))
  })

  it('--format json is one valid JSON array of the events, blank lines skipped', async () => {
    const events = [0, 1, 2, 3, 4].map(
      (n) => JSON.parse(event(n, {msg: n === 2 ? 'ünïcødé ✓' : `m${n}`})) as Record<string, unknown>,
    )
    const line = (n: number) => JSON.stringify(events[n])
    const {bucket, id} = await seeded([`${line(0)}\n\n${line(1)}\n`, `\n${line(2)}`, `${line(3)}\n  \n${line(4)}\n\n`])
    const result = await runCli(['audit-log', 'export', id, '--format', 'json', '--shared-bucket', bucket])
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual(events)
  })

  it('a corrupt line fails with exit 1 naming the shard key and line, and uploads nothing', async () => {
    const shards = Array.from({length: 5}, (_, n) => `${event(3 * n)}\n${event(3 * n + 1)}\n${event(3 * n + 2)}\n`)
    shards[3] = `${event(9)}\n{"seq": 10, "truncated\n${event(11)}\n`
    const {bucket, id} = await seeded(shards)

    const result = await runCli([
      'audit-log',
      'export',
      id,
      '--format',
      'json',
      '--delivery',
      'signed_url',
      '--shared-bucket',
      bucket,
    ])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(shardKey(id, 3))
    expect(result.stderr).toMatch(/\bline 2\b/)
    expect(result.stderr).not.toMatch(/\n\s+at /)
    expect(await exportTraces(bucket)).toEqual([])
    expect(await auditLogText(bucket, id)).not.toContain('audit_log.exported')

    const json = await runJson<{error: {exit: number; message: string}}>([
      'audit-log',
      'export',
      id,
      '--format',
      'json',
      '--delivery',
      'signed_url',
      '--shared-bucket',
      bucket,
    ])
    expect(json.code).toBe(1)
    expect(json.json.error.message).toContain(`${shardKey(id, 3)} line 2`)

    // jsonl passes the stored lines through unvalidated.
    const jsonl = await runCli(['audit-log', 'export', id, '--shared-bucket', bucket])
    expect(jsonl.code).toBe(0)
    expect(jsonl.stdout).toBe(shards.join(''))
  })
})

describe.concurrent('audit-log export: isolated engagements and custody', () => {
  it('an isolated engagement exports into its own bucket, never the shared one', async () => {
    const bucket = await createSharedBucket(s3, 'isolated')
    const created = await runJson<{engagement_id: string; source_bucket: string}>([
      'engagement',
      'create',
      '--name',
      'Isolated export',
      '--isolated',
      '--shared-bucket',
      bucket,
    ])
    expect(created.code).toBe(0)
    const {engagement_id: id, source_bucket: own} = created.json
    expect(own).toBe(`metis-af-${id.slice('eng-'.length)}-${motoAccountId}`)
    await putShard(own, id, 1, `${event(1, {msg: 'in the engagement bucket'})}\n`)
    const stored = await auditLogText(own, id)

    const result = await runJson<SignedUrlJson>([
      'audit-log',
      'export',
      id,
      '--delivery',
      'signed_url',
      '--shared-bucket',
      bucket,
    ])
    expect(result.code).toBe(0)
    expect(result.json.s3_bucket).toBe(own)
    expect(result.json.shard_count).toBe(2)
    const head = await s3.send(new HeadObjectCommand({Bucket: own, Key: result.json.s3_key!}))
    expect(head.VersionId).toBe(result.json.version_id)
    expect(new URL(result.json.signed_url!).pathname).toContain(own)
    expect((await download(result.json.signed_url!)).toString('utf8')).toBe(stored)

    expect(await exportTraces(bucket)).toEqual([])
    expect(await keysUnder(bucket, `auditforge/engagements/${id}/`)).toEqual([])
    expect(await auditLogText(own, id)).toContain('"audit_log.exported"')
  })

  it('a signed URL export appends an audit_log.exported event with the actor, never the URL', async () => {
    const {bucket, id} = await seeded([`${event(0)}\n`, `${event(1)}\n${event(2)}\n`])
    const sts = new STSClient({
      region: 'us-east-1',
      endpoint: inject('motoEndpoint'),
      credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
    })
    const caller = await sts.send(new GetCallerIdentityCommand({}))
    sts.destroy()
    expect(caller.Arn).toMatch(new RegExp(`^arn:aws:[a-z]+::${motoAccountId}:`))

    const result = await runJson<SignedUrlJson>([
      'audit-log',
      'export',
      id,
      '--format',
      'json',
      '--delivery',
      'signed_url',
      '--expires-in',
      '120',
      '--shared-bucket',
      bucket,
    ])
    expect(result.code).toBe(0)

    const log = await auditLogText(bucket, id)
    const events = log
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>)
    const custody = events.filter((entry) => entry.event === 'audit_log.exported')
    expect(custody).toHaveLength(1)
    expect(custody[0]).toMatchObject({
      engagement_id: id,
      actor: caller.Arn,
      s3_bucket: bucket,
      s3_key: result.json.s3_key,
      version_id: result.json.version_id,
      size_bytes: result.json.size_bytes,
      format: 'json',
      expires_at: result.json.expires_at,
    })
    expect(events.slice(0, 3).map((entry) => entry.seq)).toEqual([0, 1, 2])

    const url = new URL(result.json.signed_url!)
    const signature = url.searchParams.get('X-Amz-Signature')!
    expect(signature).toMatch(/^[0-9a-f]{64}$/)
    expect(log).not.toContain(signature)
    expect(log).not.toContain('X-Amz-Signature')
    expect(log).not.toContain(url.search)
    expect(log).not.toContain(result.json.signed_url!)

    // The next export includes the custody event of the first.
    const again = await runJson<SignedUrlJson>([
      'audit-log',
      'export',
      id,
      '--delivery',
      'signed_url',
      '--shared-bucket',
      bucket,
    ])
    expect(again.json.event_count).toBe(4)
    expect(again.json.version_id).not.toBe(result.json.version_id)
    // Two exports, two keys, even within the same second; the first URL still serves the first export.
    expect(again.json.s3_key).not.toBe(result.json.s3_key)
    expect(
      (JSON.parse((await download(result.json.signed_url!)).toString('utf8')) as {seq: number}[]).map(
        (entry) => entry.seq,
      ),
    ).toEqual([0, 1, 2])
  })
})

describe.concurrent('audit-log export: --output and pipes', () => {
  it('--output writes the exact bytes through a temporary file', async () => {
    const shards = [`${event(0, {msg: 'ß'})}\n`, `${event(1)}`, `${event(2, {msg: '🎉'})}\n`]
    const {bucket, id} = await seeded(shards)
    const folder = await mkdtemp(join(tmpdir(), 'export-output-'))
    try {
      const path = join(folder, 'audit.jsonl')
      const result = await runJson<{output: string; size_bytes: number; event_count: number; shard_count: number}>([
        'audit-log',
        'export',
        id,
        '--output',
        path,
        '--shared-bucket',
        bucket,
      ])
      expect(result.code).toBe(0)
      const expected = expectedJsonl(shards)
      expect((await readFile(path)).equals(expected)).toBe(true)
      expect(result.json).toMatchObject({output: path, size_bytes: expected.length, event_count: 3, shard_count: 3})
      expect(await readdir(folder)).toEqual(['audit.jsonl'])

      const plain = await runCli([
        'audit-log',
        'export',
        id,
        '--format',
        'json',
        '-o',
        join(folder, 'audit.json'),
        '--shared-bucket',
        bucket,
      ])
      expect(plain.code).toBe(0)
      expect(plain.stdout).not.toContain('"seq"')
      expect(
        (JSON.parse(await readFile(join(folder, 'audit.json'), 'utf8')) as {seq: number}[]).map((entry) => entry.seq),
      ).toEqual([0, 1, 2])
    } finally {
      await rm(folder, {recursive: true, force: true})
    }
  })

  it('--output leaves no file and no temporary file when the export fails', async () => {
    const big = Array.from({length: 2000}, (_, n) => event(n)).join('\n')
    const {bucket, id} = await seeded([`${big}\n`, `${event(1)}\nnot json at all\n`])
    const folder = await mkdtemp(join(tmpdir(), 'export-output-'))
    try {
      await writeFile(join(folder, 'kept.json'), 'an earlier export\n')
      for (const name of ['new.json', 'kept.json']) {
        const result = await runCli([
          'audit-log',
          'export',
          id,
          '--format',
          'json',
          '--output',
          join(folder, name),
          '--shared-bucket',
          bucket,
        ])
        expect(result.code).toBe(1)
        expect(result.stderr).toContain(`${shardKey(id, 1)} line 2`)
      }
      expect(await readdir(folder)).toEqual(['kept.json'])
      expect(await readFile(join(folder, 'kept.json'), 'utf8')).toBe('an earlier export\n')
    } finally {
      await rm(folder, {recursive: true, force: true})
    }
  })

  it('a reader that closes stdout early is not a crash', async () => {
    const line = event(0, {padding: 'x'.repeat(900)})
    const shard = `${Array.from({length: 1200}, () => line).join('\n')}\n`
    const {bucket, id} = await seeded([shard, shard, shard])

    // Whether the export is mid-shard or between shards when the pipe closes is a matter of
    // timing, so several readers close early at once.
    const runs = await Promise.all([0, 1, 2].map(() => closeEarly(id, bucket)))
    for (const {code, signal, stderr, received} of runs) {
      expect(received).toBeGreaterThan(0)
      expect(signal, stderr).toBeNull()
      expect(code, stderr).toBe(0)
      expect(stderr).not.toMatch(/EPIPE|Error:|\n\s+at /)
    }
  })
})

/** Runs a stream export and closes its stdout after the first chunk, as `| head -c 1` would. */
async function closeEarly(id: string, bucket: string) {
  const child = spawn(process.execPath, [binPath, 'audit-log', 'export', id, '--shared-bucket', bucket], {
    env: baseEnv() as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  let received = 0
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  child.stdout.once('data', (chunk: Buffer) => {
    received = chunk.length
    child.stdout.destroy()
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (c, s) => resolve([c, s])),
  )
  clearTimeout(timer)
  return {code, signal, stderr, received}
}
