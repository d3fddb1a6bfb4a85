/**
 * Unit tests of src/lib/migrate.ts with aws-sdk-client-mock: seed 001's cases (plan, execute,
 * partial-already-in-target, verify-only, AccessDenied/NoSuchBucket, size-mismatch failure) and
 * the parts of the copy that matter for exactness: CopySource encoding, owner checks, multipart
 * copies, and which ETags can be compared.
 *
 * The mock behaves like a tiny S3 (an in-memory map of buckets), so every case runs the real
 * plan → provision → copy → verify → record sequence and can assert on what was and was not sent.
 */
import {createHash} from 'node:crypto'
import {Readable} from 'node:stream'

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  NoSuchBucket,
  NotFound,
  PutBucketEncryptionCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  S3Client,
  S3ServiceException,
  type Tag,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3'
import {sdkStreamMixin} from '@smithy/core/serde'
import {mockClient} from 'aws-sdk-client-mock'
import {beforeEach, describe, expect, it} from 'vitest'

import type {AwsContext} from '../../src/lib/aws.js'
import {resolveSettings} from '../../src/lib/config.js'
import type {EngagementRecord} from '../../src/lib/engagement-index.js'
import {AuditforgeError} from '../../src/lib/errors.js'
import {differenceText} from '../../src/ui/migration.js'
import {listCurrentVersions} from '../../src/lib/s3/index.js'
import {
  copySource,
  type EvidenceSummary,
  executeMigration,
  migrateEngagement,
  migrationExitCode,
  planMigration,
  rollbackMigration,
  rollbackRisk,
  verifyMigrations,
} from '../../src/lib/migrate/index.js'

const s3Mock = mockClient(S3Client)

const account = '123456789012'
const shared = 'shared'
const indexKey = 'auditforge/engagements.json'
const tombstonesKey = 'auditforge/decommissioned-buckets.json'
const targetOf = (id: string) => `metis-af-${id.slice('eng-'.length)}-${account}`

function context(): AwsContext {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  return {
    s3: new S3Client({region: 'us-east-1', credentials: {accessKeyId: 'x', secretAccessKey: 'x'}}),
    settings: resolveSettings({'shared-bucket': shared}, {}),
    accountId: async () => account,
    callerArn: async () => `arn:aws:iam::${account}:user/t`,
  }
}

function record(id: string, sourceBucket = ''): EngagementRecord {
  return {
    engagement_id: id,
    name: `Engagement ${id}`,
    client_id: 'client-1',
    created_at: '2026-01-01T00:00:00Z',
    source_bucket: sourceBucket,
    findings_key: `auditforge/engagements/${id}/findings.json`,
    audit_log_key: `auditforge/engagements/${id}/audit_log/`,
  }
}

const md5 = (body: string) => `"${createHash('md5').update(body).digest('hex')}"`

interface Stored {
  body: string
  size: number
  etag: string
  /** Each write gets a new version id, as in a versioned bucket (only the current one is kept). */
  versionId?: string
  contentType?: string
  metadata?: Record<string, string>
  tags?: Tag[]
  /** A stored full-object CRC64NVME (a stand-in value computed from the bytes), as S3 keeps one. */
  checksum?: string
}

/** The stand-in for S3's stored CRC64NVME: a function of the bytes, like the real one. */
const storedChecksum = (body: string) => createHash('sha256').update(body).digest('base64').slice(0, 12)

function s3Error(name: string, status: number): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: {httpStatusCode: status},
    message: `${name} (test)`,
  })
}

const noSuchBucket = () =>
  new NoSuchBucket({$metadata: {httpStatusCode: 404}, message: 'The specified bucket does not exist'})

/**
 * An in-memory S3 behind the mock. Listing pages are deliberately small (3 keys) so the
 * paginated listing is exercised on every case.
 */
class FakeS3 {
  readonly buckets = new Map<string, Map<string, Stored>>()
  pageSize = 3
  /** Keys whose copy lands truncated by one byte (a broken copy). */
  truncateCopies = new Set<string>()
  /** Keys whose copy lands with other bytes of the same size (a broken copy no identity can see). */
  corruptCopies = new Set<string>()
  /** SSE-KMS: every write gets an ETag that is not an MD5 of the bytes (a random one). */
  kms = false
  /** Keys in GLACIER: a copy fails with InvalidObjectState. */
  archived = new Set<string>()
  /** Runs just before each CopyObject lands: lets a test change the source mid-migration. */
  beforeCopy?: (key: string) => void
  uploads = 0
  /** Bucket tag sets as written; an existing bucket without one reads as bound to this index. */
  readonly tags = new Map<string, {Key?: string; Value?: string}[]>()

  constructor() {
    this.install()
  }

  bucket(name: string): Map<string, Stored> {
    let bucket = this.buckets.get(name)
    if (!bucket) this.buckets.set(name, (bucket = new Map()))
    return bucket
  }

  versions = 0

  put(bucket: string, key: string, body: string, extra: Partial<Stored> = {}): void {
    this.bucket(bucket).set(key, {
      body,
      size: Buffer.byteLength(body),
      etag: md5(body),
      versionId: `v${++this.versions}`,
      ...extra,
    })
  }

  writeIndex(records: EngagementRecord[]): void {
    this.put(shared, indexKey, JSON.stringify({engagements: records, schema: 2}), {contentType: 'application/json'})
  }

  readIndex(): EngagementRecord[] {
    return (JSON.parse(this.bucket(shared).get(indexKey)!.body) as {engagements: EngagementRecord[]}).engagements
  }

  /** The bucket's keys, without migrate's evidence (a reserved prefix, never engagement data). */
  keys(bucket: string): string[] {
    return [...(this.buckets.get(bucket)?.keys() ?? [])]
      .filter((key) => !key.startsWith('auditforge/migrations/'))
      .sort()
  }

  private existing(name: string | undefined): Map<string, Stored> {
    const bucket = this.buckets.get(name!)
    if (!bucket) throw noSuchBucket()
    return bucket
  }

  install(): void {
    s3Mock.on(HeadBucketCommand).callsFake(async (input) => {
      if (!this.buckets.has(input.Bucket)) throw new NotFound({$metadata: {httpStatusCode: 404}, message: 'Not Found'})
      return {}
    })
    s3Mock.on(CreateBucketCommand).callsFake(async (input) => {
      this.bucket(input.Bucket)
      return {Location: `/${input.Bucket}`}
    })
    s3Mock.on(PutPublicAccessBlockCommand).resolves({})
    s3Mock.on(PutBucketOwnershipControlsCommand).resolves({})
    s3Mock.on(PutBucketEncryptionCommand).resolves({})
    s3Mock.on(PutBucketVersioningCommand).resolves({})
    // A bucket that already exists before provisioning is bound to this index (as an earlier,
    // interrupted run would have left it) unless a test says otherwise.
    s3Mock.on(PutBucketTaggingCommand).callsFake(async (input) => {
      this.tags.set(input.Bucket!, input.Tagging?.TagSet ?? [])
      return {}
    })
    s3Mock.on(GetBucketTaggingCommand).callsFake(async (input) => {
      if (!this.buckets.has(input.Bucket)) throw s3Error('NoSuchBucket', 404)
      return {TagSet: this.tags.get(input.Bucket!) ?? [{Key: 'auditforge:index', Value: shared}]}
    })
    s3Mock.on(ListMultipartUploadsCommand).resolves({Uploads: []})
    s3Mock.on(ListObjectsV2Command).callsFake(async (input) => {
      const bucket = this.existing(input.Bucket)
      const keys = [...bucket.keys()].filter((key) => key.startsWith(input.Prefix ?? '')).sort()
      const start = input.ContinuationToken === undefined ? 0 : keys.indexOf(input.ContinuationToken)
      const size = Math.min(input.MaxKeys ?? 1000, this.pageSize)
      const page = keys.slice(start, start + size)
      const truncated = start + size < keys.length
      return {
        Contents: page.map((key) => ({Key: key, Size: bucket.get(key)!.size, ETag: bucket.get(key)!.etag})),
        KeyCount: page.length,
        IsTruncated: truncated,
        NextContinuationToken: truncated ? keys[start + size] : undefined,
      }
    })
    s3Mock.on(ListObjectVersionsCommand).callsFake(async (input) => {
      const bucket = this.existing(input.Bucket)
      const keys = [...bucket.keys()].filter((key) => key.startsWith(input.Prefix ?? '')).sort()
      const start = input.KeyMarker === undefined ? 0 : keys.findIndex((key) => key > input.KeyMarker!)
      const from = start === -1 ? keys.length : start
      const page = keys.slice(from, from + this.pageSize)
      const truncated = from + this.pageSize < keys.length
      return {
        Versions: page.map((key) => ({
          Key: key,
          Size: bucket.get(key)!.size,
          ETag: bucket.get(key)!.etag,
          VersionId: bucket.get(key)!.versionId,
          IsLatest: true,
        })),
        IsTruncated: truncated,
        NextKeyMarker: truncated ? page.at(-1) : undefined,
        NextVersionIdMarker: truncated ? bucket.get(page.at(-1)!)!.versionId : undefined,
      }
    })
    s3Mock.on(DeleteObjectCommand).callsFake(async (input) => {
      this.existing(input.Bucket).delete(input.Key!)
      return {DeleteMarker: true, VersionId: `v${++this.versions}`}
    })
    s3Mock.on(GetObjectCommand).callsFake(async (input) => {
      const object = this.existing(input.Bucket).get(input.Key)
      if (!object) throw s3Error('NoSuchKey', 404)
      if (input.VersionId !== undefined && input.VersionId !== object.versionId) throw s3Error('NoSuchVersion', 404)
      return {
        Body: sdkStreamMixin(Readable.from([Buffer.from(object.body)])),
        ETag: object.etag,
        ContentLength: object.size,
      }
    })
    s3Mock.on(PutObjectCommand).callsFake(async (input) => {
      const bucket = this.existing(input.Bucket)
      const current = bucket.get(input.Key)
      if (input.IfNoneMatch === '*' && current) throw s3Error('PreconditionFailed', 412)
      if (input.IfMatch !== undefined && current?.etag !== input.IfMatch) throw s3Error('PreconditionFailed', 412)
      this.put(input.Bucket!, input.Key!, String(input.Body), {contentType: input.ContentType})
      return {ETag: bucket.get(input.Key)!.etag, VersionId: bucket.get(input.Key)!.versionId}
    })
    s3Mock.on(CopyObjectCommand).callsFake(async (input) => {
      const [path, query] = input.CopySource!.split('?')
      const [sourceBucket, ...rest] = path.split('/')
      const key = decodeURIComponent(rest.join('/'))
      this.beforeCopy?.(key)
      const source = this.existing(sourceBucket).get(key)
      if (!source) throw s3Error('NoSuchKey', 404)
      // The pinned version must still be the current one (only current versions are kept here).
      const pinned = query ? new URLSearchParams(query).get('versionId') : null
      if (pinned !== null && pinned !== source.versionId) throw s3Error('NoSuchVersion', 404)
      if (input.CopySourceIfMatch !== undefined && input.CopySourceIfMatch !== source.etag)
        throw s3Error('PreconditionFailed', 412)
      const target = this.existing(input.Bucket)
      if (input.IfNoneMatch === '*' && target.has(input.Key!)) throw s3Error('PreconditionFailed', 412)
      if (this.archived.has(key)) throw s3Error('InvalidObjectState', 403)
      const truncated = this.truncateCopies.has(key) ? source.body.slice(0, -1) : source.body
      const body = this.corruptCopies.has(key) ? `#${truncated.slice(1)}` : truncated
      const versionId = `v${++this.versions}`
      const etag = this.kms ? `"${createHash('md5').update(`${versionId} kms`).digest('hex')}"` : md5(body)
      // S3 computes the checksum asked for from the bytes it wrote.
      const checksum = input.ChecksumAlgorithm === 'CRC64NVME' ? storedChecksum(body) : undefined
      target.set(input.Key!, {...source, body, size: Buffer.byteLength(body), etag, versionId, checksum})
      return {
        CopyObjectResult: {ETag: etag, ...(checksum ? {ChecksumCRC64NVME: checksum} : {})},
        VersionId: versionId,
        CopySourceVersionId: source.versionId,
      }
    })
    s3Mock.on(HeadObjectCommand).callsFake(async (input) => {
      const object = this.existing(input.Bucket).get(input.Key)
      // Only current versions are kept: a version id that is not the current one is gone.
      if (!object || (input.VersionId !== undefined && input.VersionId !== object.versionId))
        throw new NotFound({$metadata: {httpStatusCode: 404}, message: 'Not Found'})
      return {
        ContentLength: object.size,
        ETag: object.etag,
        ContentType: object.contentType,
        Metadata: object.metadata,
        VersionId: object.versionId,
        ServerSideEncryption: this.kms ? 'aws:kms' : undefined,
        ...(input.ChecksumMode === 'ENABLED' && object.checksum
          ? {ChecksumCRC64NVME: object.checksum, ChecksumType: 'FULL_OBJECT' as const}
          : {}),
      }
    })
    s3Mock
      .on(GetObjectTaggingCommand)
      .callsFake(async (input) => ({TagSet: this.existing(input.Bucket).get(input.Key)?.tags ?? []}))
    s3Mock.on(CreateMultipartUploadCommand).callsFake(async () => ({UploadId: `upload-${++this.uploads}`}))
    s3Mock
      .on(UploadPartCopyCommand)
      .callsFake(async (input) => ({CopyPartResult: {ETag: `"part-${input.PartNumber}"`}}))
    s3Mock.on(CompleteMultipartUploadCommand).callsFake(async (input) => {
      // The part copies are not simulated byte by byte: the completed object has the source's
      // bytes and, as on S3, a multipart ETag that is not an MD5 of them.
      const source = this.bucket(shared).get(input.Key!)!
      const parts = input.MultipartUpload!.Parts!.length
      const versionId = `v${++this.versions}`
      this.bucket(input.Bucket!).set(input.Key!, {
        ...source,
        etag: `"0123456789abcdef0123456789abcdef-${parts}"`,
        versionId,
      })
      return {ETag: `"0123456789abcdef0123456789abcdef-${parts}"`, VersionId: versionId}
    })
  }
}

/** Every call the mock saw, as [command name, input], in order. */
function history(): [string, Record<string, unknown>][] {
  return s3Mock.calls().map((call) => {
    const command = call.args[0] as unknown as {constructor: {name: string}; input: Record<string, unknown>}
    return [command.constructor.name, command.input]
  })
}

const mutating = /^(Put|Copy|Create|Delete|Upload|Complete|Abort|Restore)/

/** The lease a migrate run holds on an engagement, beside the index. */
const leaseKey = (id: string) => `auditforge/leases/migrate-${id}.json`

function mutations(): string[] {
  return history()
    .map(([name]) => name)
    .filter((name) => mutating.test(name))
}

function indexWrites(): Record<string, unknown>[] {
  return history()
    .filter(([name, input]) => name === 'PutObjectCommand' && input.Key === indexKey)
    .map(([, input]) => input)
}

function copyInputs(): Record<string, unknown>[] {
  return s3Mock.commandCalls(CopyObjectCommand).map((call) => call.args[0].input as unknown as Record<string, unknown>)
}

/** A typical engagement's keys, with a little content each. */
function engagementKeys(id: string): string[] {
  return [
    `auditforge/engagements/${id}/findings.json`,
    `auditforge/engagements/${id}/audit_log/shard-00000.jsonl`,
    `auditforge/engagements/${id}/audit_log/shard-00001.jsonl`,
    `auditforge/engagements/${id}/source/contract.pdf`,
    `auditforge/engagements/${id}/index/chunks/0001.json`,
    `auditforge/audit_logs/${id}/legacy-0001.jsonl`,
    `auditforge/deliverables/${id}.json`,
    `auditforge/deliverables/${id}.md`,
    `auditforge/deliverables/${id}.docx`,
    `auditforge/deliverables/${id}-methodology.md`,
    `auditforge/exports/${id}-20260101T120000Z.jsonl`,
  ]
}

let fake: FakeS3

beforeEach(() => {
  s3Mock.reset()
  fake = new FakeS3()
})

/** An outcome's differences as the text view prints them (the JSON carries them structured). */
const differenceTexts = (outcome: {differences?: Parameters<typeof differenceText>[0][] | null}) =>
  (outcome.differences ?? []).map((difference) => differenceText(difference))

describe('planMigration', () => {
  it("lists exactly each unmigrated engagement's own keys and mutates nothing", async () => {
    const abc = 'eng-abc'
    const abcd = 'eng-abcd'
    fake.writeIndex([record(abc), record(abcd), record('eng-done', targetOf('eng-done'))])
    for (const id of [abc, abcd, 'eng-done']) for (const key of engagementKeys(id)) fake.put(shared, key, `${key} body`)
    // Keys that belong to nobody's migration: the tenant corpus, firm branding, the index, and
    // near-misses that share the prefix of eng-abc.
    fake.put(shared, 'client-1/index/corpus/doc-1.json', 'tenant')
    fake.put(shared, 'auditforge/firms.json', '{}')
    fake.put(shared, 'auditforge/deliverables/eng-abc-notes.txt', 'not a deliverable of eng-abc')
    fake.put(shared, 'auditforge/exports/eng-abc-latest.jsonl', 'not an export name')
    fake.put(shared, 'auditforge/engagements/eng-abcx/findings.json', 'an engagement not in the index')

    const plan = await planMigration(context(), shared)

    expect(plan.status).toBe('ok')
    expect(plan.sourceBucket).toBe(shared)
    expect(plan.alreadyMigrated).toEqual([])
    const byId = new Map(plan.engagements.map((engagement) => [engagement.engagementId, engagement]))
    expect([...byId.keys()].sort()).toEqual([abc, abcd])
    for (const id of [abc, abcd]) {
      const engagement = byId.get(id)!
      expect(engagement.targetBucket).toBe(targetOf(id))
      // The plan counts, in constant memory, exactly what the copy passes will list.
      expect(engagement.objects).toBe(engagementKeys(id).length)
      const expectedBytes = engagementKeys(id).reduce((sum, key) => sum + Buffer.byteLength(`${key} body`), 0)
      expect(engagement.bytes).toBe(expectedBytes)
      const listed: {key: string; etag: string}[] = []
      for await (const object of listCurrentVersions(context().s3, shared, id)) listed.push(object)
      expect(listed.map((object) => object.key)).toEqual([...engagementKeys(id)].sort())
      for (const object of listed) expect(object.etag).toBe(md5(`${object.key} body`))
    }
    expect(mutations()).toEqual([])
    expect(new Set(history().map(([name]) => name))).toEqual(new Set(['GetObjectCommand', 'ListObjectsV2Command']))
  })

  it('plans only the named engagement, and reports a named migrated one as already migrated', async () => {
    fake.writeIndex([record('eng-one'), record('eng-two'), record('eng-moved', targetOf('eng-moved'))])
    for (const id of ['eng-one', 'eng-two', 'eng-moved'])
      fake.put(shared, `auditforge/engagements/${id}/findings.json`, '{}')

    const one = await planMigration(context(), shared, {engagementId: 'eng-two'})
    expect(one.engagements.map((engagement) => engagement.engagementId)).toEqual(['eng-two'])

    const moved = await planMigration(context(), shared, {engagementId: 'eng-moved'})
    expect(moved.engagements).toEqual([])
    expect(moved.alreadyMigrated.map((entry) => entry.engagement_id)).toEqual(['eng-moved'])
    const outcomes = await executeMigration(context(), moved)
    expect(outcomes).toEqual([
      expect.objectContaining({
        engagement_id: 'eng-moved',
        status: 'already_migrated',
        copied: 0,
        target_bucket: targetOf('eng-moved'),
      }),
    ])
    expect(mutations()).toEqual([])
  })

  it('leaves index entries with ids it cannot match exactly alone, and plans the rest', async () => {
    fake.writeIndex([record('eng-good'), {...record('eng-good'), engagement_id: 'ENG-Legacy_1'}])
    fake.put(shared, 'auditforge/engagements/eng-good/findings.json', '{}')
    fake.put(shared, 'auditforge/engagements/ENG-Legacy_1/findings.json', '{}')
    const plan = await planMigration(context(), shared)
    expect(plan.engagements.map((engagement) => engagement.engagementId)).toEqual(['eng-good'])
    expect(plan.invalidIds).toEqual(['ENG-Legacy_1'])
    expect(mutations()).toEqual([])
  })

  it('rejects a bad id before any call and an unknown one with exit 3', async () => {
    fake.writeIndex([record('eng-one')])
    await expect(planMigration(context(), shared, {engagementId: 'eng-../x'})).rejects.toMatchObject({exit: 2})
    expect(s3Mock.calls()).toHaveLength(0)
    await expect(planMigration(context(), shared, {engagementId: 'eng-missing'})).rejects.toMatchObject({
      exit: 3,
      code: 'not_found',
    })
    expect(mutations()).toEqual([])
  })

  it.each([
    [
      'AccessDenied on the index',
      'access_denied',
      () => s3Mock.on(GetObjectCommand).rejects(s3Error('AccessDenied', 403)),
    ],
    [
      'AccessDenied on the listing',
      'access_denied',
      () => s3Mock.on(ListObjectsV2Command).rejects(s3Error('AccessDenied', 403)),
    ],
    ['NoSuchBucket', 'no_such_bucket', () => fake.buckets.delete(shared)],
  ] as const)('%s on the shared bucket gives status %s, no plan and no mutation', async (_name, status, breakIt) => {
    fake.writeIndex([record('eng-one')])
    fake.put(shared, 'auditforge/engagements/eng-one/findings.json', '{}')
    breakIt()

    const plan = await planMigration(context(), shared)

    expect(plan.status).toBe(status)
    expect(plan.engagements).toEqual([])
    expect(plan.message).toContain(shared)
    expect(await executeMigration(context(), plan)).toEqual([])
    expect(mutations()).toEqual([])
  })

  it('does not swallow other failures as a "no plan"', async () => {
    s3Mock.on(GetObjectCommand).rejects(s3Error('InternalError', 500))
    await expect(planMigration(context(), shared)).rejects.toBeInstanceOf(AuditforgeError)
  })
})

describe('executeMigration', () => {
  it('provisions the target, copies every key with owner checks, verifies, then flips the record', async () => {
    const id = 'eng-6715f196fa40'
    fake.writeIndex([record(id), record('eng-other')])
    const keys = engagementKeys(id)
    for (const key of keys) fake.put(shared, key, `${key} body`)
    fake.put(shared, 'auditforge/engagements/eng-other/findings.json', 'other')

    const plan = await planMigration(context(), shared, {engagementId: id})
    const outcomes = await executeMigration(context(), plan, {concurrency: 3})

    const target = targetOf(id)
    expect(outcomes).toEqual([
      {
        engagement_id: id,
        target_bucket: target,
        objects: keys.length,
        bytes: plan.engagements[0].bytes,
        status: 'migrated',
        copied: keys.length,
        skipped_existing: 0,
        run_id: expect.stringMatching(/^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6}$/),
        late_writes: 0,
      },
    ])
    expect(fake.keys(target)).toEqual([...keys].sort())
    for (const key of keys) expect(fake.bucket(target).get(key)!.body).toBe(`${key} body`)
    for (const input of copyInputs()) {
      expect(input.Bucket).toBe(target)
      expect(input.ExpectedBucketOwner).toBe(account)
      expect(input.ExpectedSourceBucketOwner).toBe(account)
      // Pinned to the content the listing showed (compare-and-swap on the source's ETag).
      expect(input.CopySource).toBe(copySource(shared, input.Key as string))
      expect(input.CopySourceIfMatch).toBe(fake.bucket(shared).get(input.Key as string)!.etag)
    }
    // The record flips last, once, with a conditional write, and keeps the index's other content.
    const names = history().map(([name]) => name)
    expect(names.lastIndexOf('CopyObjectCommand')).toBeLessThan(names.lastIndexOf('PutObjectCommand'))
    expect(indexWrites()).toHaveLength(1)
    expect(indexWrites()[0].IfMatch).toMatch(/^"[0-9a-f]{32}"$/)
    const index = fake.readIndex()
    expect(index.find((entry) => entry.engagement_id === id)!.source_bucket).toBe(target)
    expect(index.find((entry) => entry.engagement_id === 'eng-other')!.source_bucket).toBe('')
    expect(JSON.parse(fake.bucket(shared).get(indexKey)!.body).schema).toBe(2)
    // The source is never modified: no call other than reads went to the shared bucket, except the
    // index write and the run's lease on the engagement, which is gone at the end.
    for (const [name, input] of history()) {
      if (input.Bucket === shared && mutating.test(name)) expect([indexKey, leaseKey(id)]).toContain(input.Key)
    }
    expect(fake.bucket(shared).has(leaseKey(id))).toBe(false)
  })

  it('copies only what is missing or differs when the target already holds part of it', async () => {
    const id = 'eng-partial'
    fake.writeIndex([record(id)])
    const keys = engagementKeys(id)
    for (const key of keys) fake.put(shared, key, `${key} body`)
    const target = targetOf(id)
    // Already there from an interrupted run: three identical copies, and one of another size.
    const [same1, same2, same3, stale] = keys
    for (const key of [same1, same2, same3]) fake.put(target, key, `${key} body`)
    fake.put(target, stale, 'stale and shorter')

    const plan = await planMigration(context(), shared)
    const [outcome] = await executeMigration(context(), plan)

    expect(outcome.status).toBe('migrated')
    expect(outcome.skipped_existing).toBe(3)
    expect(outcome.copied).toBe(keys.length - 3)
    const copied = copyInputs().map((input) => input.Key)
    expect(copied).toHaveLength(keys.length - 3)
    expect(copied).not.toContain(same1)
    expect(copied).toContain(stale)
    expect(new Set(copied)).toEqual(new Set(keys.filter((key) => ![same1, same2, same3].includes(key))))
    expect(fake.bucket(target).get(stale)!.body).toBe(`${stale} body`)
  })

  it('recopies a same-size object whose MD5 ETag differs', async () => {
    const id = 'eng-samesize'
    fake.writeIndex([record(id)])
    const key = `auditforge/engagements/${id}/findings.json`
    fake.put(shared, key, 'AAAA')
    fake.put(targetOf(id), key, 'BBBB')
    const [outcome] = await executeMigration(context(), await planMigration(context(), shared))
    expect(outcome).toMatchObject({status: 'migrated', copied: 1, skipped_existing: 0})
    expect(fake.bucket(targetOf(id)).get(key)!.body).toBe('AAAA')
  })

  it('copies keys that appeared in the source after the plan before the record flips', async () => {
    const id = 'eng-growing'
    fake.writeIndex([record(id)])
    for (const key of engagementKeys(id)) fake.put(shared, key, `${key} body`)
    const plan = await planMigration(context(), shared)
    const late = `auditforge/engagements/${id}/audit_log/shard-00002.jsonl`
    fake.beforeCopy = () => {
      if (!fake.bucket(shared).has(late)) fake.put(shared, late, '{"event":"late"}\n')
    }

    const [outcome] = await executeMigration(context(), plan)

    expect(outcome.status).toBe('migrated')
    expect(outcome.objects).toBe(engagementKeys(id).length + 1)
    expect(outcome.copied).toBe(engagementKeys(id).length + 1)
    expect(fake.bucket(targetOf(id)).get(late)?.body).toBe('{"event":"late"}\n')
    const names = history().map(([name, input]) => `${name} ${String(input.Key)}`)
    expect(names.indexOf(`CopyObjectCommand ${late}`)).toBeLessThan(names.indexOf(`PutObjectCommand ${indexKey}`))
  })

  it('fails verification on a size mismatch: status verification_failed, differences listed, record untouched', async () => {
    const id = 'eng-broken'
    fake.writeIndex([record(id)])
    const keys = engagementKeys(id)
    for (const key of keys) fake.put(shared, key, `${key} body`)
    fake.truncateCopies.add(keys[3])
    const indexBefore = fake.bucket(shared).get(indexKey)!.body

    const [outcome] = await executeMigration(context(), await planMigration(context(), shared))

    expect(outcome.status).toBe('verification_failed')
    expect(differenceTexts(outcome)).toEqual(
      expect.arrayContaining([expect.stringContaining(`size differs: ${keys[3]}`)]),
    )
    expect(indexWrites()).toEqual([])
    expect(fake.bucket(shared).get(indexKey)!.body).toBe(indexBefore)
    expect(fake.readIndex()[0].source_bucket).toBe('')
  })

  it('SSE-KMS objects (ETags that are not MD5s) migrate in one pass, and a re-run after a failed flip copies nothing', async () => {
    const id = 'eng-kms'
    fake.kms = true
    fake.writeIndex([record(id)])
    const keys = engagementKeys(id)
    for (const key of keys)
      fake.put(shared, key, `${key} body`, {etag: `"${createHash('md5').update(`${key} kms source`).digest('hex')}"`})
    // The first run's flip fails: the copies and their evidence stay.
    s3Mock.on(PutObjectCommand, {Key: indexKey}).rejectsOnce(s3Error('AccessDenied', 403))
    const [first] = await executeMigration(context(), await planMigration(context(), shared))
    expect(first).toMatchObject({status: 'failed', copied: 0})
    expect(copyInputs()).toHaveLength(keys.length)
    fake.install()
    const [second] = await executeMigration(context(), await planMigration(context(), shared))
    expect(second).toMatchObject({status: 'migrated', copied: 0, skipped_existing: keys.length})
    expect(copyInputs()).toHaveLength(keys.length)
    expect(fake.readIndex()[0].source_bucket).toBe(targetOf(id))
  })

  it('an archived source object is reported by key with the restore hint, exit 4, record untouched', async () => {
    const id = 'eng-archived'
    fake.writeIndex([record(id)])
    const keys = engagementKeys(id)
    for (const key of keys) fake.put(shared, key, `${key} body`)
    fake.archived.add(keys[2])
    const [outcome] = await executeMigration(context(), await planMigration(context(), shared))
    expect(outcome.status).toBe('verification_failed')
    expect(differenceTexts(outcome)).toEqual([
      expect.stringMatching(new RegExp(`^archived: ${keys[2].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} .*restore`)),
    ])
    expect(migrationExitCode([outcome])).toBe(4)
    expect(indexWrites()).toEqual([])
  })

  it('a key deleted from the source after it was copied is removed from the target before the flip, and the engagement migrates', async () => {
    const id = 'eng-vanish'
    fake.writeIndex([record(id)])
    const keys = engagementKeys(id)
    for (const key of keys) fake.put(shared, key, `${key} body`)
    const gone = [...keys].sort()[0] // copied first, deleted from the source afterwards
    let copies = 0
    fake.beforeCopy = () => {
      // After the fourth copy the application deletes an object already copied.
      if (++copies === 4) fake.bucket(shared).delete(gone)
    }
    const [outcome] = await executeMigration(context(), await planMigration(context(), shared))
    expect(outcome).toMatchObject({status: 'migrated', objects: keys.length - 1})
    expect(fake.keys(targetOf(id))).toEqual(keys.filter((key) => key !== gone).sort())
    // (and the run's lease, released at the end)
    expect(
      s3Mock.commandCalls(DeleteObjectCommand).map((call) => [call.args[0].input.Bucket, call.args[0].input.Key]),
    ).toEqual([
      [targetOf(id), gone],
      [shared, leaseKey(id)],
    ])
  })

  it("records one engagement's failure and still migrates the others", async () => {
    fake.writeIndex([record('eng-good'), record('eng-bad')])
    fake.put(shared, 'auditforge/engagements/eng-good/findings.json', 'good')
    fake.put(shared, 'auditforge/engagements/eng-bad/findings.json', 'bad')
    s3Mock.on(CopyObjectCommand, {Bucket: targetOf('eng-bad')}).rejects(s3Error('AccessDenied', 403))

    const outcomes = await executeMigration(context(), await planMigration(context(), shared))

    const byId = Object.fromEntries(outcomes.map((outcome) => [outcome.engagement_id, outcome]))
    expect(byId['eng-good'].status).toBe('migrated')
    expect(byId['eng-bad'].status).toBe('failed')
    expect(byId['eng-bad'].error).toContain(targetOf('eng-bad'))
    const index = fake.readIndex()
    expect(index.find((entry) => entry.engagement_id === 'eng-good')!.source_bucket).toBe(targetOf('eng-good'))
    expect(index.find((entry) => entry.engagement_id === 'eng-bad')!.source_bucket).toBe('')
  })

  it('copies keys that need encoding in CopySource byte for byte', async () => {
    const id = 'eng-names'
    fake.writeIndex([record(id)])
    const names = [
      'a b.txt',
      'a+b.txt',
      '100%.txt',
      'naïve résumé 文件.txt',
      'q?x=1&y#z.txt',
      "it's (1).txt",
      'plus+and%2F.txt',
    ]
    const keys = names.map((name) => `auditforge/engagements/${id}/source/${name}`)
    for (const key of keys) fake.put(shared, key, `body of ${key}`)

    const [outcome] = await executeMigration(context(), await planMigration(context(), shared))

    expect(outcome.status).toBe('migrated')
    expect(fake.keys(targetOf(id))).toEqual([...keys].sort())
    for (const key of keys) expect(fake.bucket(targetOf(id)).get(key)!.body).toBe(`body of ${key}`)
    for (const input of copyInputs())
      expect(String(input.CopySource).split('?versionId=')[0]).not.toMatch(/[ +?#&\u0080-\uffff]|%(?![0-9A-F]{2})/)
  })

  it('copies large objects part by part with byte ranges, carrying content type, metadata and tags', async () => {
    const id = 'eng-large'
    fake.writeIndex([record(id)])
    const big = `auditforge/engagements/${id}/source/scan 1.bin`
    const small = `auditforge/engagements/${id}/findings.json`
    fake.put(shared, big, '0123456789A', {
      contentType: 'application/octet-stream',
      metadata: {origin: 'scanner', 'page-count': '3'},
      tags: [
        {Key: 'class', Value: 'confidential'},
        {Key: 'a b', Value: 'c&d=e'},
      ],
    })
    fake.put(shared, small, '{}')

    const [outcome] = await executeMigration(context(), await planMigration(context(), shared), {
      multipartThreshold: 10,
      partSize: 4,
    })

    expect(outcome).toMatchObject({status: 'migrated', copied: 2})
    const target = targetOf(id)
    expect(copyInputs().map((input) => input.Key)).toEqual([small])
    const create = s3Mock.commandCalls(CreateMultipartUploadCommand)
    expect(create).toHaveLength(1)
    expect(create[0].args[0].input).toMatchObject({
      Bucket: target,
      Key: big,
      ExpectedBucketOwner: account,
      ContentType: 'application/octet-stream',
      Metadata: {origin: 'scanner', 'page-count': '3'},
      Tagging: 'class=confidential&a%20b=c%26d%3De',
    })
    // S3's smallest part is 5 MiB: an object this small goes in one part, whatever partSize says
    // (the engine's part ranges are tested on their own in copy.test.ts).
    const parts = s3Mock.commandCalls(UploadPartCopyCommand).map((call) => call.args[0].input)
    expect(parts.map((part) => [part.PartNumber, part.CopySourceRange])).toEqual([[1, 'bytes=0-10']])
    for (const part of parts) {
      expect(part).toMatchObject({
        Bucket: target,
        Key: big,
        UploadId: 'upload-1',
        ExpectedBucketOwner: account,
        ExpectedSourceBucketOwner: account,
      })
      expect(part.CopySource).toBe(copySource(shared, big))
      expect(part.CopySourceIfMatch).toBe(md5('0123456789A'))
    }
    const complete = s3Mock.commandCalls(CompleteMultipartUploadCommand)
    expect(complete).toHaveLength(1)
    expect(complete[0].args[0].input).toMatchObject({
      Bucket: target,
      Key: big,
      UploadId: 'upload-1',
      ExpectedBucketOwner: account,
      MultipartUpload: {Parts: [{PartNumber: 1, ETag: '"part-1"'}]},
    })
    // The multipart ETag in the target is not an MD5: verification rested on the identity the copy returned.
    expect(fake.bucket(target).get(big)!.etag).toMatch(/-1"$/)
    expect(fake.readIndex()[0].source_bucket).toBe(target)
  })

  it('aborts a multipart copy whose part fails and leaves the record alone', async () => {
    const id = 'eng-abort'
    fake.writeIndex([record(id)])
    fake.put(shared, `auditforge/engagements/${id}/source/big.bin`, 'x'.repeat(20))
    s3Mock.on(UploadPartCopyCommand).rejects(s3Error('InternalError', 500))

    const [outcome] = await executeMigration(context(), await planMigration(context(), shared), {
      multipartThreshold: 10,
      partSize: 8,
    })

    expect(outcome.status).toBe('failed')
    expect(s3Mock.commandCalls(AbortMultipartUploadCommand).map((call) => call.args[0].input)).toEqual([
      expect.objectContaining({Bucket: targetOf(id), UploadId: 'upload-1', ExpectedBucketOwner: account}),
    ])
    expect(s3Mock.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0)
    expect(indexWrites()).toEqual([])
  })

  it('reports progress up to every object and byte', async () => {
    const id = 'eng-progress'
    fake.writeIndex([record(id)])
    for (const key of engagementKeys(id)) fake.put(shared, key, `${key} body`)
    const plan = await planMigration(context(), shared)
    const snapshots: {
      objectsDone: number
      objectsTotal: number
      bytesDone: number
      bytesTotal: number
      phase: string
    }[] = []
    await migrateEngagement(context(), shared, plan.engagements[0], {
      onProgress: (snapshot) => snapshots.push(snapshot),
    })
    const last = snapshots.at(-1)!
    expect(last.phase).toBe('record')
    expect(last.objectsDone).toBe(last.objectsTotal)
    expect(last.objectsTotal).toBe(engagementKeys(id).length)
    expect(last.bytesDone).toBe(plan.engagements[0].bytes)
    expect(snapshots.filter((snapshot) => snapshot.phase === 'copy').length).toBeGreaterThanOrEqual(
      engagementKeys(id).length,
    )
  })
})

describe('executeMigration with deep checks', () => {
  const sha256 = (body: string) => createHash('sha256').update(body).digest('hex')
  /** An engagement whose sources carry stored checksums, as S3 keeps them for new uploads. */
  function seeded(id: string): string[] {
    fake.writeIndex([record(id)])
    const keys = engagementKeys(id)
    for (const key of keys) fake.put(shared, key, `${key} body`, {checksum: storedChecksum(`${key} body`)})
    return keys
  }
  /** The run's summary as each PutObject wrote it, in order, and where the index write fell. */
  function summaryWrites(): {order: number; summary: EvidenceSummary}[] {
    return history()
      .map(([name, input], order) => ({name, input, order}))
      .filter(({name, input}) => name === 'PutObjectCommand' && String(input.Key).endsWith('/summary.json'))
      .map(({input, order}) => ({order, summary: JSON.parse(String(input.Body)) as EvidenceSummary}))
  }

  it('a copy that lands other bytes of the same size passes identity verification alone', async () => {
    const id = 'eng-corrupt0'
    const keys = seeded(id)
    fake.corruptCopies.add(keys[3])
    const [outcome] = await executeMigration(context(), await planMigration(context(), shared))
    // What the deep checks are for: identity cannot see it.
    expect(outcome.status).toBe('migrated')
    expect(fake.bucket(targetOf(id)).get(keys[3])!.body).not.toBe(`${keys[3]} body`)
    expect(outcome.deep_checks).toBeUndefined()
  })

  it('--content-sample catches it before the flip: exit 4, record untouched, the sample in the summary', async () => {
    const id = 'eng-corrupt1'
    const keys = seeded(id)
    fake.corruptCopies.add(keys[3])
    const [outcome] = await executeMigration(context(), await planMigration(context(), shared), {
      contentSample: keys.length,
    })

    expect(outcome.status).toBe('verification_failed')
    expect(migrationExitCode([outcome])).toBe(4)
    expect(differenceTexts(outcome)).toEqual([
      `content differs: ${keys[3]} (SHA-256 source ${sha256(`${keys[3]} body`)}, target ${sha256(fake.bucket(targetOf(id)).get(keys[3])!.body)})`,
    ])
    expect(indexWrites()).toEqual([])
    expect(fake.readIndex()[0].source_bucket).toBe('')
    const [{summary}] = summaryWrites().slice(-1)
    expect(summary.verification).toMatchObject({result: 'failed', differences: 1})
    expect(summary.flipped_at).toBeNull()
    expect(summary.deep_checks?.checksums).toBeNull()
    expect(summary.deep_checks?.content_sample).toMatchObject({
      result: 'failed',
      requested: keys.length,
      population: keys.length,
      sampled: keys.length,
      mismatches: 1,
      equal: keys.length - 1,
    })
  })

  it('--checksums catches it before the flip too', async () => {
    const id = 'eng-corrupt2'
    const keys = seeded(id)
    fake.corruptCopies.add(keys[3])
    const [outcome] = await executeMigration(context(), await planMigration(context(), shared), {checksums: true})
    expect(outcome.status).toBe('verification_failed')
    expect(differenceTexts(outcome)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^checksum differs: ${keys[3].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(source CRC64NVME FULL_OBJECT .+, target CRC64NVME FULL_OBJECT .+\\)$`,
        ),
      ),
    ])
    expect(outcome.deep_checks!.checksums).toMatchObject({
      result: 'failed',
      objects: keys.length,
      compared: keys.length,
      mismatches: 1,
    })
    expect(indexWrites()).toEqual([])
  })

  it('checks that pass are recorded in the summary written before the flip; every read is pinned', async () => {
    const id = 'eng-deepok'
    const keys = seeded(id)
    let draws = 0
    const [outcome] = await executeMigration(context(), await planMigration(context(), shared), {
      checksums: true,
      contentSample: 3,
      // Always replace slot 0 while the draw allows it: the sample is then keys 1, 2 and the last.
      randomInt: () => (draws++, 0),
    })

    expect(outcome.status).toBe('migrated')
    expect(outcome.deep_checks!.checksums).toMatchObject({
      result: 'passed',
      objects: keys.length,
      compared: keys.length,
      equal: keys.length,
      not_comparable: 0,
    })
    const sorted = [...keys].sort()
    const expectedSample = [sorted.at(-1)!, sorted[1], sorted[2]].sort()
    expect(outcome.deep_checks!.content_sample).toMatchObject({
      result: 'passed',
      requested: 3,
      population: keys.length,
      sampled: 3,
      equal: 3,
    })
    expect(
      outcome.deep_checks!.content_sample!.objects.map((object) => [
        object.key,
        object.source_sha256,
        object.target_sha256,
      ]),
    ).toEqual(expectedSample.map((key) => [key, sha256(`${key} body`), sha256(`${key} body`)]))
    expect(draws).toBe(keys.length - 3)
    // The summary with the deep checks is written before the index flips.
    const writes = summaryWrites()
    const indexAt = history().findIndex(([name, input]) => name === 'PutObjectCommand' && input.Key === indexKey)
    expect(writes[0].order).toBeLessThan(indexAt)
    expect(writes[0].summary).toMatchObject({
      flipped_at: null,
      verification: {result: 'passed'},
      deep_checks: {checksums: {equal: keys.length}, content_sample: {sampled: 3}},
    })
    // Checksums read with checksum mode, pinned to the versions the evidence names.
    const heads = s3Mock
      .commandCalls(HeadObjectCommand)
      .map((call) => call.args[0].input)
      .filter((input) => input.ChecksumMode === 'ENABLED')
    expect(heads).toHaveLength(2 * keys.length)
    for (const input of heads) expect(input.VersionId).toMatch(/^v\d+$/)
    const reads = s3Mock
      .commandCalls(GetObjectCommand)
      .map((call) => call.args[0].input)
      .filter(
        (input) =>
          input.Key !== indexKey &&
          input.Key !== tombstonesKey &&
          !String(input.Key).startsWith('auditforge/migrations/') &&
          !String(input.Key).startsWith('auditforge/leases/'),
      )
    expect(reads).toHaveLength(6)
    for (const input of reads) expect(input.VersionId).toMatch(/^v\d+$/)
  })

  it('SSE-KMS objects (ETags that are not MD5s) compare by their stored checksums', async () => {
    const id = 'eng-kmsdeep'
    fake.kms = true
    const keys = seeded(id)
    const [outcome] = await executeMigration(context(), await planMigration(context(), shared), {checksums: true})
    expect(outcome.status).toBe('migrated')
    expect(outcome.deep_checks!.checksums).toMatchObject({result: 'passed', compared: keys.length, equal: keys.length})
  })

  it('sources without a stored checksum are not comparable: counted and listed with the reason, not failed', async () => {
    const id = 'eng-nocrc'
    fake.writeIndex([record(id)])
    const keys = engagementKeys(id)
    for (const key of keys) fake.put(shared, key, `${key} body`)
    const [outcome] = await executeMigration(context(), await planMigration(context(), shared), {checksums: true})
    expect(outcome.status).toBe('migrated')
    expect(outcome.deep_checks!.checksums).toMatchObject({
      result: 'passed',
      compared: 0,
      not_comparable: keys.length,
      not_comparable_reasons: {no_source_checksum: keys.length},
    })
    expect(outcome.deep_checks!.checksums!.not_comparable_objects).toHaveLength(keys.length)
  })

  it('a bad --content-sample is exit 2 before any call', async () => {
    const plan = {sourceBucket: shared, status: 'ok' as const, engagements: [], alreadyMigrated: [], invalidIds: []}
    for (const bad of [0, -1, 1.5, 10_001])
      await expect(executeMigration(context(), plan, {contentSample: bad})).rejects.toMatchObject({exit: 2})
    expect(s3Mock.calls()).toHaveLength(0)
  })
})

describe('verifyMigrations', () => {
  function migrated(id: string, drop?: string) {
    const target = targetOf(id)
    for (const key of engagementKeys(id)) {
      fake.put(shared, key, `${key} body`)
      if (key !== drop) fake.put(target, key, `${key} body`)
    }
    return record(id, target)
  }

  it('passes when the target holds every source key, copying and writing nothing', async () => {
    fake.writeIndex([migrated('eng-v1'), record('eng-unmigrated')])
    fake.put(
      targetOf('eng-v1'),
      'auditforge/engagements/eng-v1/audit_log/shard-00009.jsonl',
      'written after the migration',
    )

    const outcomes = await verifyMigrations(context(), shared)

    expect(outcomes).toEqual([
      expect.objectContaining({
        engagement_id: 'eng-v1',
        target_bucket: targetOf('eng-v1'),
        status: 'verified',
        differences: [],
        objects: engagementKeys('eng-v1').length,
      }),
    ])
    expect(mutations()).toEqual([])
    for (const call of s3Mock.commandCalls(ListObjectsV2Command)) {
      const input = call.args[0].input
      if (input.Bucket !== shared) expect(input.ExpectedBucketOwner).toBe(account)
    }
  })

  it('lists a missing or different target object as a difference', async () => {
    const keys = engagementKeys('eng-v2')
    fake.writeIndex([migrated('eng-v2', keys[2])])
    fake.put(targetOf('eng-v2'), keys[4], 'changed')

    const [outcome] = await verifyMigrations(context(), shared, 'eng-v2')

    expect(outcome.status).toBe('verification_failed')
    expect(differenceTexts(outcome)).toContain(`missing in target: ${keys[2]}`)
    expect(differenceTexts(outcome)).toEqual(
      expect.arrayContaining([expect.stringContaining(`size differs: ${keys[4]}`)]),
    )
    expect(differenceTexts(outcome)).toHaveLength(2)
    expect(outcome.differences).toContainEqual({
      key: keys[2],
      kind: 'missing_in_target',
      source: expect.any(String),
      target: null,
      detail: null,
    })
    expect(outcome.differences).toContainEqual(
      expect.objectContaining({
        key: keys[4],
        kind: 'size_differs',
        source: expect.stringMatching(/^\d+ B$/),
        target: expect.stringMatching(/^\d+ B$/),
      }),
    )
    expect(mutations()).toEqual([])
  })

  it('without evidence, a same-size multipart object with other bytes fails: unproven, never accepted on its size', async () => {
    const id = 'eng-v3'
    const key = `auditforge/engagements/${id}/source/scan.pdf`
    fake.writeIndex([migrated(id)])
    fake.put(shared, key, 'AAAAAAAA', {etag: '"0123456789abcdef0123456789abcdef-2"'})
    fake.put(targetOf(id), key, 'BBBBBBBB', {etag: '"fedcba9876543210fedcba9876543210-2"'})

    const [outcome] = await verifyMigrations(context(), shared, id)

    expect(outcome.status).toBe('verification_failed')
    expect(differenceTexts(outcome)).toEqual([
      `unproven: ${key} (same size; a multipart ETag is not an MD5 of the bytes)`,
    ])
    expect(outcome.unproven).toBe(1)
    expect(outcome.suggestion).toContain(`auditforge migrate --verify-only --engagement-id ${id} --checksums`)
    expect(outcome.suggestion).toContain('--content-sample')
    expect(outcome).toMatchObject({deep_checks: null, verification_record: null, evidence_run: null})
    expect(mutations()).toEqual([])
  })

  it('without evidence, SSE-KMS objects are unproven by their ETags even when those look like MD5s', async () => {
    fake.kms = true
    fake.writeIndex([migrated('eng-v4')])
    const [outcome] = await verifyMigrations(context(), shared, 'eng-v4')
    expect(outcome.status).toBe('verification_failed')
    expect(outcome.unproven).toBe(engagementKeys('eng-v4').length)
    expect(differenceTexts(outcome)[0]).toMatch(/^unproven: .* \(same size; SSE-KMS ETags are not MD5s of the bytes\)$/)
  })

  it('without evidence, --checksums proves equal multipart objects, fails different ones, and stores a verification record', async () => {
    const id = 'eng-v5'
    const [same, other, bare] = ['same.bin', 'other.bin', 'bare.bin'].map(
      (name) => `auditforge/engagements/${id}/source/${name}`,
    )
    fake.writeIndex([migrated(id)])
    const multipart = {etag: '"0123456789abcdef0123456789abcdef-2"'}
    fake.put(shared, same, 'SAME', {...multipart, checksum: storedChecksum('SAME')})
    fake.put(targetOf(id), same, 'SAME', {...multipart, checksum: storedChecksum('SAME')})
    fake.put(shared, other, 'AAAA', {...multipart, checksum: storedChecksum('AAAA')})
    fake.put(targetOf(id), other, 'BBBB', {...multipart, checksum: storedChecksum('BBBB')})
    fake.put(shared, bare, 'CCCC', multipart)
    fake.put(targetOf(id), bare, 'CCCC', {...multipart, checksum: storedChecksum('CCCC')})

    const [outcome] = await verifyMigrations(context(), shared, id, {
      checksums: true,
      now: () => new Date('2026-03-04T05:06:07.008Z'),
      toolVersion: '9.9.9',
    })

    expect(outcome.status).toBe('verification_failed')
    expect(differenceTexts(outcome)).toEqual([
      `checksum differs: ${other} (source CRC64NVME ${storedChecksum('AAAA')}, target CRC64NVME ${storedChecksum('BBBB')})`,
      `unproven: ${bare} (same size; a multipart ETag is not an MD5 of the bytes; not comparable by checksum: the source object has no stored checksum)`,
    ])
    expect(outcome.unproven).toBe(1)
    expect(outcome.suggestion).toMatch(
      /only their bytes prove them: `auditforge migrate --verify-only --engagement-id eng-v5 --content-sample \d+`/,
    )
    // Every object is read with its checksum: the single-part MD5 ones too (proven by MD5; their
    // sources have no checksum here, so they count as not comparable, which fails nothing).
    expect(outcome.deep_checks!.checksums).toMatchObject({
      objects: engagementKeys(id).length + 3,
      compared: 2,
      equal: 1,
      mismatches: 1,
      result: 'failed',
    })
    expect(outcome.deep_checks!.checksums!.not_comparable).toBe(engagementKeys(id).length + 1)
    // One write: the verification record, conditional, under the reserved prefix.
    expect(mutations()).toEqual(['PutObjectCommand'])
    const [write] = s3Mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input)
    expect(write).toMatchObject({
      Bucket: targetOf(id),
      Key: `auditforge/migrations/${id}/verifications/20260304T050607.008Z-${write.Key!.slice(-11, -5)}.json`,
      IfNoneMatch: '*',
      ExpectedBucketOwner: account,
    })
    expect(outcome.verification_record).toBe(write.Key)
    expect(JSON.parse(String(write.Body))).toMatchObject({
      engagement_id: id,
      tool_version: '9.9.9',
      operator_arn: `arn:aws:iam::${account}:user/t`,
      evidence_run: null,
      result: 'failed',
      differences: 2,
      unproven: 1,
      deep_checks: {checksums: {mismatches: 1}, content_sample: null},
    })
  })

  it('without evidence, a full --content-sample proves unproven objects by their bytes and fails those that differ', async () => {
    const id = 'eng-v6'
    const [same, other] = ['same.bin', 'other.bin'].map((name) => `auditforge/engagements/${id}/source/${name}`)
    fake.writeIndex([migrated(id)])
    const multipart = {etag: '"0123456789abcdef0123456789abcdef-2"'}
    fake.put(shared, same, 'SAME', multipart)
    fake.put(targetOf(id), same, 'SAME', multipart)
    fake.put(shared, other, 'AAAA', multipart)
    fake.put(targetOf(id), other, 'BBBB', multipart)

    const [outcome] = await verifyMigrations(context(), shared, id, {contentSample: 100})

    expect(outcome.status).toBe('verification_failed')
    expect(outcome.unproven).toBe(0)
    expect(differenceTexts(outcome)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^content differs: ${other.replace(/[.]/g, '\\.')} \\(SHA-256 source [0-9a-f]{64}, target [0-9a-f]{64}\\)$`,
        ),
      ),
    ])
    expect(outcome.deep_checks!.content_sample).toMatchObject({
      population: engagementKeys(id).length + 2,
      sampled: engagementKeys(id).length + 2,
      mismatches: 1,
    })

    // With the different object put right, the same full sample proves every object.
    fake.put(targetOf(id), other, 'AAAA', multipart)
    const [again] = await verifyMigrations(context(), shared, id, {contentSample: 100})
    expect(again).toMatchObject({status: 'verified', unproven: 0, differences: []})
  })

  it('fails a named engagement that was never migrated, and exits 3 for an unknown one', async () => {
    fake.writeIndex([record('eng-never')])
    const [outcome] = await verifyMigrations(context(), shared, 'eng-never')
    expect(outcome.status).toBe('verification_failed')
    expect(differenceTexts(outcome)).toEqual([expect.stringContaining('not migrated')])
    await expect(verifyMigrations(context(), shared, 'eng-nobody')).rejects.toMatchObject({exit: 3})
    expect(mutations()).toEqual([])
  })
})

describe('rollback', () => {
  it('sets source_bucket back to "" with one conditional index write and touches no object', async () => {
    const id = 'eng-back'
    const target = targetOf(id)
    fake.writeIndex([record(id, target)])
    for (const key of engagementKeys(id)) {
      fake.put(shared, key, `${key} body`)
      fake.put(target, key, `${key} body`)
    }
    fake.put(target, `auditforge/engagements/${id}/audit_log/shard-00005.jsonl`, 'newer')

    const risk = await rollbackRisk(context(), shared, fake.readIndex()[0])
    expect(risk).toEqual([`auditforge/engagements/${id}/audit_log/shard-00005.jsonl`])

    const after = await rollbackMigration(context(), shared, id)

    expect(after.source_bucket).toBe('')
    expect(fake.readIndex()[0].source_bucket).toBe('')
    expect(mutations()).toEqual(['PutObjectCommand'])
    expect(indexWrites()[0].IfMatch).toBeDefined()
  })
})

describe('copySource', () => {
  it('URL-encodes the key in CopySource, keeping slashes', () => {
    expect(copySource('shared', 'auditforge/engagements/eng-1/source/a b+c%d é.txt')).toBe(
      'shared/auditforge/engagements/eng-1/source/a%20b%2Bc%25d%20%C3%A9.txt',
    )
    for (const key of ['a/b c/d', 'x+y', '50%', '文件/ファイル', 'q?x=1&y#z', 'a%2Fb']) {
      const source = copySource('bkt', key)
      expect(source.startsWith('bkt/')).toBe(true)
      expect(decodeURIComponent(source.slice('bkt/'.length))).toBe(key)
      expect(source.slice('bkt/'.length).split('/')).toHaveLength(key.split('/').length)
    }
  })
})
