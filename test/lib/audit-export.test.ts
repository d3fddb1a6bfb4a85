/**
 * Unit tests of src/lib/audit-export.ts over a mocked S3Client (aws-sdk-client-mock): the jsonl
 * and json payloads built from shard bodies as the SDK hands them out, the error for a corrupt
 * line, --expires-in bounds, the signed-URL path (credential expiry, custody event, empty log).
 */
import {mkdtemp, readFile, readdir, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable, Writable} from 'node:stream'

import {
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
// @smithy/util-stream is not a direct dependency here; @smithy/core re-exports the same mixin.
import {sdkStreamMixin} from '@smithy/core/serde'
import {mockClient} from 'aws-sdk-client-mock'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {
  type ExportFormat,
  type ExportSource,
  exportPayload,
  exportSignedUrl,
  exportToFile,
  resolveExportSource,
  streamExport,
  validateExpiresIn,
} from '../../src/lib/audit-export.js'
import type {AwsContext} from '../../src/lib/aws.js'
import {resolveSettings} from '../../src/lib/config.js'
import type {EngagementRecord} from '../../src/lib/engagement-index.js'
import {AuditforgeError} from '../../src/lib/errors.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
const s3Mock = mockClient(S3Client)

const shared = 'platform-shared'
const account = '123456789012'
const arn = 'arn:aws:iam::123456789012:user/exporter'
const id = 'eng-0a1b2c3d4e5f'
const ownBucket = `metis-af-0a1b2c3d4e5f-${account}`
const shardKey = (n: number) => `auditforge/engagements/${id}/audit_log/shard-${String(n).padStart(5, '0')}.jsonl`

function record(sourceBucket = ''): EngagementRecord {
  return {
    engagement_id: id,
    name: 'Unit',
    client_id: 'acme',
    created_at: '2025-01-02T03:04:05Z',
    source_bucket: sourceBucket,
    findings_key: `auditforge/engagements/${id}/findings.json`,
    audit_log_key: `auditforge/engagements/${id}/audit_log/`,
  }
}

function context(s3?: S3Client): AwsContext {
  return {
    s3: s3 ?? new S3Client({region: 'us-east-1', credentials: {accessKeyId: 'AKIDUNIT', secretAccessKey: 'secret'}}),
    settings: resolveSettings({'shared-bucket': shared}, {}),
    accountId: async () => account,
    callerArn: async () => arn,
  }
}

/** A GetObject Body as the SDK returns it, split into the given chunks. */
function body(...chunks: (string | Buffer)[]) {
  const buffers = chunks.map((chunk) => (Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, 'utf8')))
  return sdkStreamMixin(Readable.from(buffers)) as ReturnType<typeof sdkStreamMixin> & Readable
}

/** Every GetObject body handed out since the last reset. */
const handedOut: Readable[] = []

/**
 * Mocks the shards of the engagement: each entry is the shard's body as chunks. GetObject hands
 * out a fresh body per call; ListObjectsV2 lists the shards (for the custody append).
 */
function seed(shards: (string | Buffer)[][], bucket = shared, delayMs = 0): ExportSource {
  const infos = shards.map((chunks, n) => ({
    key: shardKey(n),
    shard: n,
    size: chunks.reduce((sum, chunk) => sum + Buffer.byteLength(chunk), 0),
  }))
  for (const [n, chunks] of shards.entries()) {
    s3Mock.on(GetObjectCommand, {Bucket: bucket, Key: shardKey(n)}).callsFake(async () => {
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs))
      const handed = body(...chunks)
      handedOut.push(handed)
      return {Body: handed, ETag: `"etag-${n}"`}
    })
  }
  s3Mock
    .on(ListObjectsV2Command)
    .resolves({Contents: infos.map((info) => ({Key: info.key, Size: info.size})), IsTruncated: false})
  return {
    engagement: record(bucket === shared ? '' : bucket),
    bucket,
    expectedOwner: bucket === shared ? undefined : account,
    shards: infos,
  }
}

async function collect(readable: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of readable) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks)
}

async function payload(source: ExportSource, format: ExportFormat) {
  const counters = {bytes: 0, events: 0}
  const bytes = await collect(
    exportPayload(
      new S3Client({region: 'us-east-1', credentials: {accessKeyId: 'x', secretAccessKey: 'x'}}),
      source,
      format,
      counters,
    ),
  )
  return {bytes, text: bytes.toString('utf8'), counters}
}

async function payloadError(source: ExportSource, format: ExportFormat): Promise<AuditforgeError> {
  const error = await payload(source, format).then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(AuditforgeError)
  return error as AuditforgeError
}

function putInputs() {
  return s3Mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input)
}

beforeEach(() => {
  s3Mock.reset()
  handedOut.length = 0
})

describe('validateExpiresIn', () => {
  it('accepts 60 through 3600 and returns the value', () => {
    for (const value of [60, 61, 600, 3599, 3600]) expect(validateExpiresIn(value)).toBe(value)
  })

  it('rejects values outside 60..3600 and non-integers with exit 2', () => {
    for (const value of [59, 0, -1, 3601, 86_400, 600.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      let caught: unknown
      try {
        validateExpiresIn(value)
      } catch (error) {
        caught = error
      }
      expect(caught, String(value)).toBeInstanceOf(AuditforgeError)
      expect((caught as AuditforgeError).exit).toBe(2)
      expect((caught as AuditforgeError).message).toContain('60')
      expect((caught as AuditforgeError).message).toContain('3600')
    }
  })
})

describe('exportPayload jsonl', () => {
  it('passes stored bytes through and adds a newline only where a shard lacks one', async () => {
    const shards = ['{"n":0}\n{"n":1}\n', '{"n":2}', '{"n":3}\n', '{"n":4}\n{"n":5}']
    const {text, bytes, counters} = await payload(seed(shards.map((s) => [s])), 'jsonl')
    expect(text).toBe('{"n":0}\n{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n{"n":5}\n')
    expect(counters).toEqual({bytes: bytes.length, events: 6})
    // The shards that ended with a newline got none added: exactly two bytes more than stored.
    expect(bytes.length).toBe(shards.join('').length + 2)
  })

  it('keeps the bytes exactly, unicode and blank lines included, and counts only non-empty lines', async () => {
    const shard0 = '{"msg":"Grüße 漢字 🎉"}\n\n{"msg":"b"}\n'
    const shard1 = '{"msg":"é"}\r\n{"msg":"last"}'
    const {bytes, counters} = await payload(seed([[shard0], [shard1]]), 'jsonl')
    expect(bytes.equals(Buffer.from(`${shard0}${shard1}\n`, 'utf8'))).toBe(true)
    expect(counters.events).toBe(4)
    expect(counters.bytes).toBe(bytes.length)
  })

  it('counts events across chunk boundaries and adds nothing for an empty shard', async () => {
    const source = seed([['{"a":1}', '\n', '\n{"b":2}\n{"c"', ':3}'], [], ['{"d":4}\n']])
    const {text, counters} = await payload(source, 'jsonl')
    expect(text).toBe('{"a":1}\n\n{"b":2}\n{"c":3}\n{"d":4}\n')
    expect(counters.events).toBe(4)
  })

  it('reads the shards in the order given and sends ExpectedBucketOwner to an engagement bucket', async () => {
    const source = seed([['{"n":0}\n'], ['{"n":1}\n'], ['{"n":2}\n']], ownBucket)
    const {text} = await payload(source, 'jsonl')
    expect(text).toBe('{"n":0}\n{"n":1}\n{"n":2}\n')
    const gets = s3Mock.commandCalls(GetObjectCommand).map((call) => call.args[0].input)
    expect(gets.map((input) => input.Key)).toEqual([shardKey(0), shardKey(1), shardKey(2)])
    for (const input of gets) {
      expect(input.Bucket).toBe(ownBucket)
      expect(input.ExpectedBucketOwner).toBe(account)
    }
  })

  it('an empty log is an empty payload', async () => {
    const {bytes, counters} = await payload(seed([]), 'jsonl')
    expect(bytes.length).toBe(0)
    expect(counters).toEqual({bytes: 0, events: 0})
  })

  it('a shard that cannot be read fails the export with its key, without an unhandled rejection', async () => {
    const source = seed([['{"n":0}\n'], ['{"n":1}\n'], ['{"n":2}\n']])
    s3Mock.on(GetObjectCommand, {Key: shardKey(1)}).rejects(
      new S3ServiceException({
        name: 'NoSuchKey',
        $fault: 'client',
        $metadata: {httpStatusCode: 404},
        message: 'gone',
      }),
    )
    const error = await payloadError(source, 'jsonl')
    expect(error.message).toContain(shardKey(1))
    expect(error.exit).toBe(3)
  })
})

describe('exportPayload json', () => {
  it('builds one JSON array of the events, skipping blank lines', async () => {
    const events = [{n: 0, msg: 'Grüße'}, {n: 1}, {n: 2, nested: {a: [1, 2]}}, {n: 3, msg: '🎉'}, {n: 4}]
    const line = (n: number) => JSON.stringify(events[n])
    const source = seed([[`${line(0)}\n\n${line(1)}\n`], [`\n   \n${line(2)}\r\n`], [], [`${line(3)}\n${line(4)}`]])
    const {text, bytes, counters} = await payload(source, 'json')
    expect(JSON.parse(text)).toEqual(events)
    expect(counters.events).toBe(5)
    expect(counters.bytes).toBe(bytes.length)
  })

  it('decodes a multi-byte character and a line split across chunks', async () => {
    const line = Buffer.from('{"msg":"漢字🎉"}\n{"n":2}\n', 'utf8')
    // Split inside the 4-byte emoji and inside the second line.
    const chunks = [line.subarray(0, 13), line.subarray(13, 15), line.subarray(15, 22), line.subarray(22)]
    const {text, counters} = await payload(seed([chunks]), 'json')
    expect(JSON.parse(text)).toEqual([{msg: '漢字🎉'}, {n: 2}])
    expect(counters.events).toBe(2)
  })

  it('an empty log is an empty array', async () => {
    const {text, counters} = await payload(seed([[], []]), 'json')
    expect(JSON.parse(text)).toEqual([])
    expect(counters.events).toBe(0)
  })

  it('a line that is not JSON is an error naming the shard key and its line number', async () => {
    const source = seed([['{"n":0}\n'], ['{"n":1}\n', '\n{"n":', '2}\n{not json}\n{"n":4}\n']])
    const error = await payloadError(source, 'json')
    expect(error.exit).toBe(1)
    expect(error.code).toBe('invalid_audit_log')
    expect(error.message).toContain(`s3://${shared}/${shardKey(1)}`)
    expect(error.message).toMatch(/\bline 4\b/)
  })

  it('a corrupt last line without a newline is found too', async () => {
    const error = await payloadError(seed([['{"n":0}\n{"n":1'], ['{"n":2}\n']]), 'json')
    expect(error.message).toContain(shardKey(0))
    expect(error.message).toMatch(/\bline 2\b/)
  })
})

describe('streamExport and exportToFile', () => {
  let folder: string
  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), 'audit-export-unit-'))
  })
  afterEach(async () => {
    await rm(folder, {recursive: true, force: true})
  })

  it('a reader that goes away (EPIPE) ends the stream quietly', async () => {
    const source = seed([['{"n":0}\n'], ['{"n":1}\n']])
    const closed = new Writable({
      write(_chunk, _encoding, callback) {
        callback(Object.assign(new Error('write EPIPE'), {code: 'EPIPE', syscall: 'write'}))
      },
    })
    const result = await streamExport(new S3Client({region: 'us-east-1'}), source, 'jsonl', closed)
    expect(result.closed).toBe(true)
  })

  it('an export that stops early closes every shard response it opened, the prefetched one included', async () => {
    // Shards larger than the stream buffer: the payload stops reading after the first one, while
    // the second shard's response is already open (prefetched).
    const big = (n: number) => `${JSON.stringify({n, pad: 'x'.repeat(100_000)})}\n`
    const source = seed([[big(0)], [big(1)], [big(2)], [big(3)]])
    const readable = exportPayload(new S3Client({region: 'us-east-1'}), source, 'jsonl', {bytes: 0, events: 0})
    await new Promise((resolve) => readable.once('readable', resolve))
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(handedOut).toHaveLength(2)
    // The reader goes away (a closed pipe does this through pipeline).
    readable.destroy()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(handedOut).toHaveLength(2)
    for (const handed of handedOut) expect(handed.destroyed).toBe(true)
    // A response that fails after the export stopped is not an unhandled 'error' event.
    for (const handed of handedOut) handed.emit('error', new Error('aborted'))
  })

  it('a corrupt line closes the prefetched shard response too', async () => {
    const source = seed([['{"n":0}\n'], ['oops\n'], ['{"n":2}\n'], ['{"n":3}\n']], shared, 10)
    await payloadError(source, 'json')
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(handedOut).toHaveLength(3)
    for (const handed of handedOut) expect(handed.destroyed).toBe(true)
  })

  it('streams every byte to the destination', async () => {
    const source = seed([['{"n":0}\n'], ['{"n":1}']])
    const chunks: Buffer[] = []
    const sink = new Writable({
      write(chunk, _encoding, callback) {
        chunks.push(Buffer.from(chunk))
        callback()
      },
    })
    const result = await streamExport(new S3Client({region: 'us-east-1'}), source, 'jsonl', sink)
    expect(Buffer.concat(chunks).toString('utf8')).toBe('{"n":0}\n{"n":1}\n')
    expect(result).toMatchObject({closed: false, events: 2, bytes: 16})
  })

  it('writes the file through a temporary name and renames it', async () => {
    const path = join(folder, 'out.jsonl')
    const counters = await exportToFile(
      new S3Client({region: 'us-east-1'}),
      seed([['{"n":0}\n'], ['{"n":1}']]),
      'jsonl',
      path,
    )
    expect(await readFile(path, 'utf8')).toBe('{"n":0}\n{"n":1}\n')
    expect(counters).toEqual({bytes: 16, events: 2})
    expect(await readdir(folder)).toEqual(['out.jsonl'])
  })

  it('on a corrupt line leaves no file, no temporary file, and an existing file untouched', async () => {
    const fresh = join(folder, 'fresh.json')
    const existing = join(folder, 'existing.json')
    await writeFile(existing, 'previous export\n')
    const source = seed([['{"n":0}\n'.repeat(1000)], ['{"n":1}\nnope\n']])
    for (const path of [fresh, existing]) {
      await expect(exportToFile(new S3Client({region: 'us-east-1'}), source, 'json', path)).rejects.toThrow(/line 2/)
    }
    expect(await readdir(folder)).toEqual(['existing.json'])
    expect(await readFile(existing, 'utf8')).toBe('previous export\n')
  })
})

describe('resolveExportSource', () => {
  const indexKey = 'auditforge/engagements.json'

  it('finds the shards in shard-number order in the engagement bucket, ignoring other keys', async () => {
    s3Mock.on(GetObjectCommand, {Bucket: shared, Key: indexKey}).callsFake(() => ({
      Body: body(JSON.stringify({engagements: [record(ownBucket)]})),
      ETag: '"i"',
    }))
    const listed = [10, 2, 100_000, 0, 11, 1].map((n) => ({
      Key: `auditforge/engagements/${id}/audit_log/shard-${String(n).padStart(5, '0')}.jsonl`,
      Size: n + 1,
    }))
    listed.push({Key: `auditforge/engagements/${id}/audit_log/notes.txt`, Size: 3})
    s3Mock.on(ListObjectsV2Command).resolves({Contents: listed, IsTruncated: false})

    const source = await resolveExportSource(context(), shared, id)
    expect(source.bucket).toBe(ownBucket)
    expect(source.expectedOwner).toBe(account)
    expect(source.shards.map((shard) => shard.shard)).toEqual([0, 1, 2, 10, 11, 100_000])
    expect(source.shards[3]).toEqual({key: shardKey(10), shard: 10, size: 11})
    const list = s3Mock.commandCalls(ListObjectsV2Command)[0].args[0].input
    expect(list).toMatchObject({
      Bucket: ownBucket,
      Prefix: `auditforge/engagements/${id}/audit_log/`,
      ExpectedBucketOwner: account,
    })
  })

  it('an engagement that is not in the index is exit 3', async () => {
    s3Mock
      .on(GetObjectCommand, {Bucket: shared, Key: indexKey})
      .callsFake(() => ({Body: body(JSON.stringify({engagements: [record()]})), ETag: '"i"'}))
    const error = await resolveExportSource(context(), shared, 'eng-000000000000').catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(AuditforgeError)
    expect((error as AuditforgeError).exit).toBe(3)
    expect(s3Mock.commandCalls(ListObjectsV2Command)).toHaveLength(0)
  })
})

describe('exportSignedUrl', () => {
  const at = new Date('2026-05-08T13:20:00.123Z')

  function mockUploads(versionId = 'export-version-1') {
    s3Mock
      .on(PutObjectCommand)
      .callsFake((input: {Key?: string}) =>
        input.Key?.startsWith('auditforge/exports/') ? {VersionId: versionId, ETag: '"up"'} : {ETag: '"log"'},
      )
  }

  it('uploads to the timestamped key, pins the URL to the version and records the custody event', async () => {
    const source = seed([['{"n":0}\n'], ['{"n":1}']])
    mockUploads()
    const result = await exportSignedUrl(context(), shared, source, 'jsonl', 900, () => at)

    const key = result.s3_key!
    expect(key).toMatch(new RegExp(`^auditforge/exports/${id}-20260508T132000\\.123Z-[0-9a-f]{6}\\.jsonl$`))
    expect(result).toMatchObject({
      engagement_id: id,
      format: 'jsonl',
      size_bytes: 16,
      shard_count: 2,
      event_count: 2,
      expires_in: 900,
      requested_expires_in: 900,
      expires_at: '2026-05-08T13:35:00Z',
      s3_bucket: shared,
      s3_key: key,
      version_id: 'export-version-1',
      empty: false,
    })
    expect(result.warning).toBeNull()
    const url = new URL(result.signed_url!)
    expect(url.searchParams.get('versionId')).toBe('export-version-1')
    expect(url.searchParams.get('X-Amz-Expires')).toBe('900')
    expect(url.pathname).toContain(key)

    const puts = putInputs()
    const upload = puts.find((input) => input.Key === key)!
    expect(upload.Bucket).toBe(shared)
    expect(upload.ContentType).toBe('application/x-ndjson')
    expect(upload.IfNoneMatch).toBe('*')
    const custody = puts.find((input) => input.Key === shardKey(1))!
    expect(custody).toBeDefined()
    const lines = String(custody.Body).split('\n').filter(Boolean)
    // The shard's own content is kept, with a newline added before the new event.
    expect(lines).toHaveLength(2)
    expect(lines[0]).toBe('{"n":1}')
    const event = JSON.parse(lines.at(-1)!)
    expect(event).toMatchObject({
      event: 'audit_log.exported',
      engagement_id: id,
      actor: arn,
      s3_bucket: shared,
      s3_key: key,
      version_id: 'export-version-1',
      etag: '"up"',
      checksum: null,
      size_bytes: 16,
      format: 'jsonl',
      expires_at: '2026-05-08T13:35:00Z',
    })
    expect(String(custody.Body)).not.toContain('X-Amz-Signature')
    expect(String(custody.Body)).not.toContain(url.searchParams.get('X-Amz-Signature')!)
  })

  it('reports the credential expiry and a warning when the credentials expire before expires_in', async () => {
    const expiration = new Date(Date.now() + 120_000)
    const s3 = new S3Client({
      region: 'us-east-1',
      credentials: {accessKeyId: 'ASIATEMP', secretAccessKey: 'secret', sessionToken: 'token', expiration},
    })
    const source = seed([['{"n":0}\n']])
    mockUploads()
    const result = await exportSignedUrl(context(s3), shared, source, 'jsonl', 3600)

    const expected = expiration.toISOString().replace(/\.\d{3}Z$/, 'Z')
    expect(result.expires_at).toBe(expected)
    // expires_in is what the URL is good for: the credentials end first (about 120 s from now).
    expect(result.requested_expires_in).toBe(3600)
    expect(result.expires_in).toBeGreaterThan(100)
    expect(result.expires_in).toBeLessThanOrEqual(120)
    expect(Date.parse(result.expires_at!)).toBeLessThanOrEqual(Date.now() + result.expires_in! * 1000 + 1000)
    expect(result.warning).not.toBeNull()
    expect(result.warning).toContain(expected)
    expect(new URL(result.signed_url!).searchParams.get('X-Amz-Security-Token')).toBe('token')
    const custody = putInputs().find((input) => input.Key === shardKey(0))!
    // The event records the expiry as the output does: effective, beside what was asked for.
    expect(JSON.parse(String(custody.Body).trim().split('\n').at(-1)!)).toMatchObject({
      expires_at: expected,
      expires_in: result.expires_in,
      requested_expires_in: 3600,
    })
  })

  it('credentials that outlive expires_in change nothing', async () => {
    const expiration = new Date(Date.now() + 7_200_000)
    const s3 = new S3Client({
      region: 'us-east-1',
      credentials: {accessKeyId: 'ASIATEMP', secretAccessKey: 's', sessionToken: 't', expiration},
    })
    mockUploads()
    const before = Date.now()
    const result = await exportSignedUrl(context(s3), shared, seed([['{"n":0}\n']]), 'jsonl', 600)
    expect(result.warning).toBeNull()
    expect(result).toMatchObject({expires_in: 600, requested_expires_in: 600})
    const expiresAt = Date.parse(result.expires_at!)
    expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 600_000)
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 600_000)
  })

  it('an empty log sends no PutObject, no multipart upload and no custody event', async () => {
    for (const shards of [[], [[]], [[], []]] as (string | Buffer)[][][]) {
      s3Mock.reset()
      const source = seed(shards)
      const result = await exportSignedUrl(context(), shared, source, 'json', 600, () => at)
      expect(result).toMatchObject({
        signed_url: null,
        empty: true,
        size_bytes: 0,
        event_count: 0,
        shard_count: shards.length,
        expires_in: null,
        expires_at: null,
        requested_expires_in: 600,
      })
      expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0)
      expect(s3Mock.commandCalls(CreateMultipartUploadCommand)).toHaveLength(0)
      expect(s3Mock.commandCalls(UploadPartCommand)).toHaveLength(0)
      expect(s3Mock.commandCalls(GetObjectCommand)).toHaveLength(0)
    }
  })

  it('a corrupt line uploads nothing and records nothing', async () => {
    const source = seed([['{"n":0}\n'], ['{"n":1}\n{oops\n']])
    mockUploads()
    const error = await exportSignedUrl(context(), shared, source, 'json', 600, () => at).catch(
      (caught: unknown) => caught,
    )
    expect(error).toBeInstanceOf(AuditforgeError)
    expect((error as AuditforgeError).exit).toBe(1)
    expect((error as AuditforgeError).message).toContain(`${shardKey(1)} line 2`)
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0)
    expect(s3Mock.commandCalls(CreateMultipartUploadCommand)).toHaveLength(0)
  })

  it('writes an isolated engagement export and custody event into its own bucket with ExpectedBucketOwner', async () => {
    const source = seed([['{"n":0}\n']], ownBucket)
    mockUploads()
    const result = await exportSignedUrl(context(), shared, source, 'json', 600, () => at)
    expect(result.s3_bucket).toBe(ownBucket)
    expect(result.s3_key).toMatch(new RegExp(`^auditforge/exports/${id}-20260508T132000\\.123Z-[0-9a-f]{6}\\.json$`))
    const puts = putInputs()
    expect(puts).toHaveLength(2)
    for (const input of puts) {
      expect(input.Bucket).toBe(ownBucket)
      expect(input.ExpectedBucketOwner).toBe(account)
    }
    expect(puts.find((input) => input.Key === result.s3_key)?.ContentType).toBe('application/json')
  })
})
