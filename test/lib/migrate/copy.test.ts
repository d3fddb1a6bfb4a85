/**
 * Unit tests of LocalCopyEngine (src/lib/migrate/copy.ts) with aws-sdk-client-mock: what each
 * CopyObject / multipart request carries (version pin, conditions, checksum, storage class,
 * metadata, tags, part ranges), the identities returned, and how a failed condition, a deleted
 * source, an archived source and a failed part end.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  S3Client,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3'
import {mockClient} from 'aws-sdk-client-mock'
import {beforeEach, describe, expect, it} from 'vitest'

import {ExitCode} from '../../../src/lib/errors.js'
import {
  LocalCopyEngine,
  type LocalCopyEngineOptions,
  maxPartBytes,
  maxParts,
  minPartBytes,
  partRanges,
  partSizeFor,
} from '../../../src/lib/migrate/copy.js'
import type {SourceObject} from '../../../src/lib/migrate/engine.js'
import {accountId, failure, s3Error, testContext} from '../fixtures.js'

const s3Mock = mockClient(S3Client)

const MiB = 1024 ** 2
const shared = 'platform-shared'
const target = 'metis-af-0a1b2c3d4e5f-123456789012'
const key = 'auditforge/engagements/eng-0a1b2c3d4e5f/source/report.pdf'
const listed: SourceObject = {key, size: 1234, etag: '"etag-v1"', versionId: 'v1', storageClass: 'STANDARD'}
const owners = {ExpectedBucketOwner: accountId, ExpectedSourceBucketOwner: accountId}

function engine(options: Partial<LocalCopyEngineOptions> = {}): LocalCopyEngine {
  return new LocalCopyEngine(testContext().s3, {
    sourceBucket: shared,
    targetBucket: target,
    owner: accountId,
    ...options,
  })
}

function inputs<T extends {input: object}>(command: new (...args: never[]) => T): T['input'][] {
  return s3Mock.commandCalls(command as never).map((call) => (call.args[0] as unknown as T).input)
}

const copied = {
  VersionId: 'tv1',
  CopyObjectResult: {ETag: '"etag-v1"', ChecksumCRC64NVME: 'AAAAAAAAAAE=', ChecksumType: 'FULL_OBJECT' as const},
}

beforeEach(() => {
  s3Mock.reset()
})

describe('LocalCopyEngine: CopyObject', () => {
  it('pins the copy to the listed version and ETag, asks for CRC64NVME, and is conditional on a target that lacked the key', async () => {
    s3Mock.on(CopyObjectCommand).resolves(copied)

    await engine().copy({source: listed, targetHasKey: false})

    expect(inputs(CopyObjectCommand)).toEqual([
      {
        Bucket: target,
        Key: key,
        CopySource: `${shared}/${key}?versionId=v1`,
        CopySourceIfMatch: '"etag-v1"',
        IfNoneMatch: '*',
        ChecksumAlgorithm: 'CRC64NVME',
        StorageClass: undefined,
        ...owners,
      },
    ])
  })

  it('is not conditional on a target that holds the key, and does not pin an unversioned ("null") source', async () => {
    s3Mock.on(CopyObjectCommand).resolves(copied)

    await engine().copy({source: {...listed, versionId: 'null'}, targetHasKey: true})
    await engine().copy({source: {...listed, versionId: undefined}, targetHasKey: true})

    for (const input of inputs(CopyObjectCommand)) {
      expect(input.IfNoneMatch).toBeUndefined()
      expect(input.CopySource).toBe(`${shared}/${key}`)
      expect(input.CopySourceIfMatch).toBe('"etag-v1"')
    }
  })

  it.each([
    [undefined, undefined],
    ['STANDARD', undefined],
    ['STANDARD_IA', 'STANDARD_IA'],
    ['INTELLIGENT_TIERING', 'INTELLIGENT_TIERING'],
    ['GLACIER_IR', 'GLACIER_IR'],
  ])('keeps the storage class %s (asks for %s)', async (listedClass, asked) => {
    s3Mock.on(CopyObjectCommand).resolves(copied)

    await engine().copy({source: {...listed, storageClass: listedClass}, targetHasKey: false})

    expect(inputs(CopyObjectCommand)[0].StorageClass).toBe(asked)
  })

  it('URL-encodes the key (slashes kept) and the version id in CopySource', async () => {
    s3Mock.on(CopyObjectCommand).resolves(copied)
    const keys = ['a b/c+d%e é.txt', 'q?x=1&y#z', '文件/ファイル', 'a%2Fb', '50%']

    for (const odd of keys)
      await engine().copy({source: {...listed, key: odd, versionId: '3/L4kq+tJ=?&'}, targetHasKey: false})

    const sources = inputs(CopyObjectCommand).map((input) => input.CopySource!)
    expect(sources[0]).toBe(`${shared}/a%20b/c%2Bd%25e%20%C3%A9.txt?versionId=3%2FL4kq%2BtJ%3D%3F%26`)
    sources.forEach((source, i) => {
      const [path, query] = source.split('?versionId=')
      expect(source.split('?')).toHaveLength(2)
      expect(decodeURIComponent(path.slice(shared.length + 1))).toBe(keys[i])
      expect(path.split('/')).toHaveLength(keys[i].split('/').length + 1)
      expect(decodeURIComponent(query)).toBe('3/L4kq+tJ=?&')
    })
  })

  it('returns the target version and checksum written, and the source version S3 copied when none was listed', async () => {
    s3Mock.on(CopyObjectCommand).resolves({...copied, CopySourceVersionId: 'current-v'})

    const pinned = await engine().copy({source: listed, targetHasKey: false})
    const unpinned = await engine().copy({source: {...listed, versionId: undefined}, targetHasKey: false})

    expect(pinned).toEqual({
      source: listed,
      target: {
        etag: '"etag-v1"',
        versionId: 'tv1',
        checksum: {algorithm: 'CRC64NVME', type: 'FULL_OBJECT', value: 'AAAAAAAAAAE='},
      },
    })
    expect(unpinned.source.versionId).toBe('current-v')
  })
})

describe('LocalCopyEngine: failed conditions', () => {
  it('a 412 because the source changed: reads both sides again and copies the new version, pinned to its ETag', async () => {
    s3Mock
      .on(CopyObjectCommand)
      .rejectsOnce(s3Error('PreconditionFailed', 412))
      .resolves({...copied, VersionId: 'tv2'})
    s3Mock
      .on(HeadObjectCommand, {Bucket: shared})
      .resolves({ETag: '"etag-v2"', ContentLength: 99, VersionId: 'v2', StorageClass: 'STANDARD_IA'})
    s3Mock.on(HeadObjectCommand, {Bucket: target}).rejects(s3Error('NotFound', 404))

    const result = await engine().copy({source: listed, targetHasKey: false})

    const [first, second] = inputs(CopyObjectCommand)
    expect(first.CopySourceIfMatch).toBe('"etag-v1"')
    expect(second).toMatchObject({
      CopySource: `${shared}/${key}?versionId=v2`,
      CopySourceIfMatch: '"etag-v2"',
      IfNoneMatch: '*',
      StorageClass: 'STANDARD_IA',
    })
    expect(
      inputs(HeadObjectCommand)
        .map((input) => input.Bucket)
        .sort(),
    ).toEqual([target, shared].sort())
    expect(
      inputs(HeadObjectCommand).every(
        (input) => input.ExpectedBucketOwner === accountId && input.VersionId === undefined,
      ),
    ).toBe(true)
    expect(result.source).toEqual({key, size: 99, etag: '"etag-v2"', versionId: 'v2', storageClass: 'STANDARD_IA'})
    expect(result.target.versionId).toBe('tv2')
  })

  // Copying over a target that gained the key is deliberate: until the record flips nothing but
  // migrate writes to the engagement's bucket, so what is there is an earlier or concurrent copy
  // of the same source, and verification later requires the version this copy wrote.
  it('a 412 because the target gained the key: copies again without If-None-Match, same source pin', async () => {
    s3Mock.on(CopyObjectCommand).rejectsOnce(s3Error('PreconditionFailed', 412)).resolves(copied)
    s3Mock.on(HeadObjectCommand, {Bucket: shared}).resolves({ETag: '"etag-v1"', ContentLength: 1234, VersionId: 'v1'})
    s3Mock.on(HeadObjectCommand, {Bucket: target}).resolves({ETag: '"someone"'})

    await engine().copy({source: listed, targetHasKey: false})

    expect(
      inputs(CopyObjectCommand).map((input) => [input.IfNoneMatch, input.CopySource, input.CopySourceIfMatch]),
    ).toEqual([
      ['*', `${shared}/${key}?versionId=v1`, '"etag-v1"'],
      [undefined, `${shared}/${key}?versionId=v1`, '"etag-v1"'],
    ])
  })

  it('a 412 on every attempt: three copies, then a conflict (exit 6) naming the key', async () => {
    s3Mock.on(CopyObjectCommand).rejects(s3Error('PreconditionFailed', 412))
    s3Mock.on(HeadObjectCommand, {Bucket: shared}).resolves({ETag: '"etag-v1"', ContentLength: 1234, VersionId: 'v1'})
    s3Mock.on(HeadObjectCommand, {Bucket: target}).rejects(s3Error('NotFound', 404))

    const error = await failure(engine().copy({source: listed, targetHasKey: false}))

    expect(s3Mock.commandCalls(CopyObjectCommand)).toHaveLength(3)
    expect(error.exit).toBe(ExitCode.conflict)
    expect(error.code).toBe('conflict')
    expect(error.message).toContain(key)
  })

  it.each([
    ['NoSuchKey on the copy', s3Error('NoSuchKey', 404)],
    ['a 412 on the copy', s3Error('PreconditionFailed', 412)],
  ])(
    'a source deleted meanwhile (%s, then 404 on the re-read) is source_vanished (exit 1), not retried',
    async (_, copyError) => {
      s3Mock.on(CopyObjectCommand).rejects(copyError)
      s3Mock.on(HeadObjectCommand, {Bucket: shared}).rejects(s3Error('NotFound', 404))
      s3Mock.on(HeadObjectCommand, {Bucket: target}).rejects(s3Error('NotFound', 404))

      const error = await failure(engine().copy({source: listed, targetHasKey: false}))

      expect(error.code).toBe('source_vanished')
      expect(error.exit).toBe(ExitCode.failed)
      expect(error.message).toContain(key)
      expect(s3Mock.commandCalls(CopyObjectCommand)).toHaveLength(1)
    },
  )

  it('an archived source (InvalidObjectState) is `archived`, exit 4, naming the key, the class and restore-object', async () => {
    s3Mock.on(CopyObjectCommand).rejects(s3Error('InvalidObjectState', 403))

    const error = await failure(engine().copy({source: {...listed, storageClass: 'DEEP_ARCHIVE'}, targetHasKey: false}))

    expect(error.code).toBe('archived')
    expect(error.exit).toBe(ExitCode.verificationFailed)
    expect(error.message).toContain(key)
    expect(error.message).toContain('DEEP_ARCHIVE')
    expect(error.message).toMatch(/restore it first \(aws s3api restore-object /)
    expect(s3Mock.commandCalls(CopyObjectCommand)).toHaveLength(1)
    expect(s3Mock.commandCalls(HeadObjectCommand)).toHaveLength(0)
  })

  it('any other failure is described with bucket and key, and not retried', async () => {
    s3Mock.on(CopyObjectCommand).rejects(s3Error('AccessDenied', 403))

    const error = await failure(engine().copy({source: listed, targetHasKey: false}))

    expect(error.code).toBe('access_denied')
    expect(error.message).toContain(`s3://${target}/${key}`)
    expect(s3Mock.commandCalls(CopyObjectCommand)).toHaveLength(1)
  })
})

describe('partSizeFor and partRanges', () => {
  it('cover the object exactly, in part-number order, every part but the last of the part size', () => {
    const size = 12 * MiB + 1
    const ranges = partRanges(size, partSizeFor(size, 5 * MiB))

    expect(ranges).toEqual([
      {partNumber: 1, start: 0, end: 5 * MiB - 1},
      {partNumber: 2, start: 5 * MiB, end: 10 * MiB - 1},
      {partNumber: 3, start: 10 * MiB, end: 12 * MiB},
    ])
    expect(partRanges(10 * MiB, 5 * MiB)).toHaveLength(2)
  })

  it('keep the configured size (at least 5 MiB) when the object fits in 10,000 parts', () => {
    expect(partSizeFor(6 * 1024 ** 3)).toBe(512 * MiB)
    expect(partSizeFor(6 * 1024 ** 3, 64 * MiB)).toBe(64 * MiB)
    expect(partSizeFor(20 * MiB, 1024)).toBe(minPartBytes)
  })

  it('grow the part size in whole MiB so a 50 TB object fits in 10,000 parts of 5 MiB to 5 GiB', () => {
    const size = 50 * 1000 ** 4
    const partSize = partSizeFor(size)
    const ranges = partRanges(size, partSize)

    expect(partSize % MiB).toBe(0)
    expect(partSize).toBeGreaterThan(512 * MiB)
    expect(partSize).toBeLessThanOrEqual(maxPartBytes)
    expect(ranges.length).toBeLessThanOrEqual(maxParts)
    expect(ranges.at(-1)!.end).toBe(size - 1)
    const misfits = ranges.filter((range, i) => {
      const length = range.end - range.start + 1
      const last = i === ranges.length - 1
      const contiguous = range.start === (i === 0 ? 0 : ranges[i - 1].end + 1)
      return (
        range.partNumber !== i + 1 ||
        !contiguous ||
        (last ? length < 1 || length > partSize : length !== partSize || length < minPartBytes)
      )
    })
    expect(misfits).toEqual([])
    // One MiB less would not fit.
    expect(Math.ceil(size / (partSize - MiB))).toBeGreaterThan(maxParts)
  })

  it('refuse an object too large for 10,000 parts of 5 GiB', () => {
    expect(() => partSizeFor(maxParts * maxPartBytes + 1)).toThrow(/does not fit/)
  })
})

describe('LocalCopyEngine: multipart copy', () => {
  const size = 12 * MiB + 1
  const big: SourceObject = {key, size, etag: '"etag-mp-3"', versionId: 'v7', storageClass: 'STANDARD_IA'}
  const small = {multipartThreshold: 10 * MiB, partSize: 5 * MiB}
  const head = {
    ETag: '"etag-mp-3"',
    ContentLength: size,
    VersionId: 'v7',
    ContentType: 'application/pdf',
    ContentEncoding: 'gzip',
    ContentDisposition: 'attachment; filename="report.pdf"',
    ContentLanguage: 'de',
    CacheControl: 'no-store',
    Expires: new Date('2030-01-01T00:00:00Z'),
    Metadata: {reviewer: 'ana', 'case-id': '42'},
    StorageClass: 'STANDARD_IA' as const,
  }

  function mockUpload(): void {
    s3Mock.on(HeadObjectCommand, {Bucket: shared}).resolves(head)
    s3Mock.on(GetObjectTaggingCommand).resolves({
      TagSet: [
        {Key: 'auditforge:engagement-id', Value: 'eng-0a1b2c3d4e5f'},
        {Key: 'a b', Value: 'x&y=z'},
      ],
    })
    s3Mock.on(CreateMultipartUploadCommand).resolves({UploadId: 'up-1'})
    s3Mock.on(UploadPartCopyCommand).callsFake((input: {PartNumber: number}) => ({
      CopyPartResult: {ETag: `"part-${input.PartNumber}"`, ChecksumCRC64NVME: `crc-${input.PartNumber}`},
    }))
    s3Mock.on(CompleteMultipartUploadCommand).resolves({
      ETag: '"etag-target-3"',
      VersionId: 'tv7',
      ChecksumCRC64NVME: 'AAAAAAAAAAI=',
      ChecksumType: 'FULL_OBJECT',
    })
  }

  it('carries metadata, tags, storage class and CRC64NVME to CreateMultipartUpload, read from the pinned version', async () => {
    mockUpload()

    await engine(small).copy({source: big, targetHasKey: false})

    expect(s3Mock.commandCalls(CopyObjectCommand)).toHaveLength(0)
    expect(inputs(HeadObjectCommand)).toEqual([
      {Bucket: shared, Key: key, VersionId: 'v7', IfMatch: '"etag-mp-3"', ExpectedBucketOwner: accountId},
    ])
    expect(inputs(GetObjectTaggingCommand)).toEqual([
      {Bucket: shared, Key: key, VersionId: 'v7', ExpectedBucketOwner: accountId},
    ])
    expect(inputs(CreateMultipartUploadCommand)).toEqual([
      {
        Bucket: target,
        Key: key,
        ExpectedBucketOwner: accountId,
        ContentType: 'application/pdf',
        ContentEncoding: 'gzip',
        ContentDisposition: 'attachment; filename="report.pdf"',
        ContentLanguage: 'de',
        CacheControl: 'no-store',
        Expires: head.Expires,
        Metadata: {reviewer: 'ana', 'case-id': '42'},
        Tagging: 'auditforge%3Aengagement-id=eng-0a1b2c3d4e5f&a%20b=x%26y%3Dz',
        StorageClass: 'STANDARD_IA',
        ChecksumAlgorithm: 'CRC64NVME',
        ChecksumType: 'FULL_OBJECT',
      },
    ])
  })

  it('copies every part from the pinned version and ETag, completes with the parts in order, and returns the identities', async () => {
    mockUpload()

    const result = await engine(small).copy({source: big, targetHasKey: false})

    const parts = inputs(UploadPartCopyCommand).sort((a, b) => a.PartNumber! - b.PartNumber!)
    expect(parts.map((part) => [part.PartNumber, part.CopySourceRange])).toEqual([
      [1, `bytes=0-${5 * MiB - 1}`],
      [2, `bytes=${5 * MiB}-${10 * MiB - 1}`],
      [3, `bytes=${10 * MiB}-${12 * MiB}`],
    ])
    for (const part of parts) {
      expect(part).toMatchObject({
        Bucket: target,
        Key: key,
        UploadId: 'up-1',
        CopySource: `${shared}/${key}?versionId=v7`,
        CopySourceIfMatch: '"etag-mp-3"',
        ...owners,
      })
    }
    expect(inputs(CompleteMultipartUploadCommand)).toEqual([
      {
        Bucket: target,
        Key: key,
        UploadId: 'up-1',
        IfNoneMatch: '*',
        ExpectedBucketOwner: accountId,
        MultipartUpload: {
          Parts: [1, 2, 3].map((n) => ({PartNumber: n, ETag: `"part-${n}"`, ChecksumCRC64NVME: `crc-${n}`})),
        },
      },
    ])
    expect(result).toEqual({
      source: big,
      target: {
        etag: '"etag-target-3"',
        versionId: 'tv7',
        checksum: {algorithm: 'CRC64NVME', type: 'FULL_OBJECT', value: 'AAAAAAAAAAI='},
      },
    })
    expect(s3Mock.commandCalls(AbortMultipartUploadCommand)).toHaveLength(0)
  })

  it('completes without If-None-Match when the target holds the key', async () => {
    mockUpload()

    await engine(small).copy({source: big, targetHasKey: true})

    expect(inputs(CompleteMultipartUploadCommand)[0].IfNoneMatch).toBeUndefined()
  })

  it('keeps at most 4 parts in flight, started in part-number order', async () => {
    mockUpload()
    let inFlight = 0
    let most = 0
    s3Mock.on(UploadPartCopyCommand).callsFake(async (input: {PartNumber: number}) => {
      most = Math.max(most, ++inFlight)
      await new Promise((resolve) => setTimeout(resolve, 1 + (input.PartNumber % 3)))
      inFlight--
      return {CopyPartResult: {ETag: `"part-${input.PartNumber}"`}}
    })

    await engine({multipartThreshold: 10 * MiB, partSize: 5 * MiB}).copy({
      source: {...big, size: 50 * MiB},
      targetHasKey: false,
    })

    expect(inputs(UploadPartCopyCommand).map((part) => part.PartNumber)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(most).toBe(4)
    expect(inputs(CompleteMultipartUploadCommand)[0].MultipartUpload!.Parts!.map((part) => part.PartNumber)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ])
  })

  it('aborts the upload when a part fails and rethrows the failure described, even if the abort fails too', async () => {
    mockUpload()
    s3Mock.on(UploadPartCopyCommand, {PartNumber: 2}).rejects(s3Error('InternalError', 500))
    s3Mock.on(AbortMultipartUploadCommand).rejects(s3Error('AccessDenied', 403))

    const error = await failure(engine(small).copy({source: big, targetHasKey: false}))

    expect(error.exit).toBe(ExitCode.failed)
    expect(error.message).toContain(key)
    expect(error.message).toContain('InternalError')
    expect(inputs(AbortMultipartUploadCommand)).toEqual([
      {Bucket: target, Key: key, UploadId: 'up-1', ExpectedBucketOwner: accountId},
    ])
    expect(s3Mock.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0)
  })

  it('a 412 on a part (the source changed mid-copy) aborts, re-reads, and copies the new version in a new upload', async () => {
    mockUpload()
    s3Mock.on(UploadPartCopyCommand, {CopySourceIfMatch: '"etag-mp-3"'}).rejects(s3Error('PreconditionFailed', 412))
    s3Mock
      .on(HeadObjectCommand, {Bucket: shared, VersionId: undefined})
      .resolves({ETag: '"etag-new-3"', ContentLength: size, VersionId: 'v8'})
    s3Mock
      .on(HeadObjectCommand, {Bucket: shared, VersionId: 'v8'})
      .resolves({...head, ETag: '"etag-new-3"', VersionId: 'v8'})
    s3Mock.on(HeadObjectCommand, {Bucket: target}).rejects(s3Error('NotFound', 404))

    const result = await engine(small).copy({source: big, targetHasKey: false})

    expect(s3Mock.commandCalls(AbortMultipartUploadCommand)).toHaveLength(1)
    expect(s3Mock.commandCalls(CreateMultipartUploadCommand)).toHaveLength(2)
    const retried = inputs(UploadPartCopyCommand).filter((part) => part.CopySourceIfMatch === '"etag-new-3"')
    expect(retried.map((part) => part.CopySource)).toEqual(Array(3).fill(`${shared}/${key}?versionId=v8`))
    expect(result.source).toMatchObject({etag: '"etag-new-3"', versionId: 'v8'})
  })
})
