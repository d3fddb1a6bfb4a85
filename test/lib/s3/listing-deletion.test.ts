import {
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  NoSuchBucket,
  S3Client,
} from '@aws-sdk/client-s3'
import {mockClient} from 'aws-sdk-client-mock'
import 'aws-sdk-client-mock-vitest/extend'
import {beforeEach, describe, expect, it} from 'vitest'

import {AuditforgeError} from '../../../src/lib/errors.js'
import {deleteBatchSize, deleteObjectVersions, listObjectVersions, listObjects} from '../../../src/lib/s3/index.js'
import {accountId, s3Error, testContext} from '../fixtures.js'

const s3Mock = mockClient(S3Client)
const bucket = `metis-af-abc-${accountId}`

function versions(from: number, count: number) {
  return Array.from({length: count}, (_, i) => ({
    Key: `k/${String(from + i).padStart(5, '0')}`,
    VersionId: `v${from + i}`,
    Size: 10,
  }))
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  for await (const item of iterable) items.push(item)
  return items
}

function deleteCalls() {
  return s3Mock.commandCalls(DeleteObjectsCommand).map((call) => call.args[0].input)
}

/** 2500 entries over three pages: 900 versions | 800 versions + 100 markers | 700 versions. */
function threePages() {
  s3Mock
    .on(ListObjectVersionsCommand)
    .resolvesOnce({
      Versions: versions(0, 900),
      IsTruncated: true,
      NextKeyMarker: 'k/00899',
      NextVersionIdMarker: 'v899',
    })
    .resolvesOnce({
      Versions: versions(900, 800),
      DeleteMarkers: versions(1700, 100).map(({Key, VersionId}) => ({Key, VersionId})),
      IsTruncated: true,
      NextKeyMarker: 'k/01799',
      NextVersionIdMarker: 'v1799',
    })
    .resolvesOnce({Versions: versions(1800, 700), IsTruncated: false})
}

beforeEach(() => {
  s3Mock.reset()
})

describe('listObjectVersions', () => {
  it('follows the key and version-id markers across pages and yields versions and delete markers', async () => {
    threePages()
    const s3 = testContext().s3
    const listed = await collect(listObjectVersions(s3, {bucket, prefix: 'k/', expectedOwner: accountId}))
    expect(listed).toHaveLength(2500)
    expect(listed.filter((entry) => entry.isDeleteMarker)).toHaveLength(100)
    expect(listed[0]).toEqual({Key: 'k/00000', VersionId: 'v0', isDeleteMarker: false, size: 10})
    const inputs = s3Mock.commandCalls(ListObjectVersionsCommand).map((call) => call.args[0].input)
    expect(inputs).toHaveLength(3)
    expect(inputs[0]).toMatchObject({
      Bucket: bucket,
      Prefix: 'k/',
      ExpectedBucketOwner: accountId,
      KeyMarker: undefined,
    })
    expect(inputs[1]).toMatchObject({KeyMarker: 'k/00899', VersionIdMarker: 'v899', ExpectedBucketOwner: accountId})
    expect(inputs[2]).toMatchObject({KeyMarker: 'k/01799', VersionIdMarker: 'v1799'})
  })

  it('describes a listing failure with the bucket and prefix', async () => {
    s3Mock.on(ListObjectVersionsCommand).rejects(new NoSuchBucket({$metadata: {httpStatusCode: 404}, message: 'gone'}))
    await expect(collect(listObjectVersions(testContext().s3, {bucket, prefix: 'k/'}))).rejects.toMatchObject({
      exit: 3,
      message: expect.stringContaining(`Listing object versions s3://${bucket}/k/`),
    })
  })
})

describe('listObjects', () => {
  it('pages with continuation tokens and passes ExpectedBucketOwner', async () => {
    s3Mock
      .on(ListObjectsV2Command)
      .resolvesOnce({Contents: [{Key: 'a'}, {Key: 'b'}], IsTruncated: true, NextContinuationToken: 't1'})
      .resolvesOnce({Contents: [{Key: 'c'}], IsTruncated: false})
    const listed = await collect(listObjects(testContext().s3, {bucket, prefix: 'p/', expectedOwner: accountId}))
    expect(listed.map((object) => object.Key)).toEqual(['a', 'b', 'c'])
    const inputs = s3Mock.commandCalls(ListObjectsV2Command).map((call) => call.args[0].input)
    expect(inputs).toHaveLength(2)
    expect(inputs[0]).toMatchObject({Bucket: bucket, Prefix: 'p/', ExpectedBucketOwner: accountId})
    expect(inputs[1]).toMatchObject({ContinuationToken: 't1', ExpectedBucketOwner: accountId})
  })

  it('describes an AccessDenied on listing', async () => {
    s3Mock.on(ListObjectsV2Command).rejects(s3Error('AccessDenied', 403))
    await expect(collect(listObjects(testContext().s3, {bucket, prefix: 'p/'}))).rejects.toMatchObject({
      code: 'access_denied',
      message: `Listing objects s3://${bucket}/p/: access denied`,
    })
  })
})

describe('deleteObjectVersions', () => {
  it('batches at most 1000 keys per DeleteObjects across pagination: 2500 versions over 3 pages → 1000/1000/500', async () => {
    threePages()
    s3Mock.on(DeleteObjectsCommand).resolves({})
    const s3 = testContext().s3
    const progress: number[] = []
    const result = await deleteObjectVersions(s3, listObjectVersions(s3, {bucket, expectedOwner: accountId}), {
      bucket,
      expectedOwner: accountId,
      onProgress: (p) => progress.push(p.deleted),
    })

    expect(deleteBatchSize).toBe(1000)
    expect(result).toEqual({deleted: 2500})
    const calls = deleteCalls()
    expect(calls.map((input) => input.Delete!.Objects!.length).sort((a, b) => b - a)).toEqual([1000, 1000, 500])
    for (const input of calls) {
      expect(input).toMatchObject({Bucket: bucket, ExpectedBucketOwner: accountId, Delete: {Quiet: true}})
    }
    const deleted = calls.flatMap((input) =>
      input.Delete!.Objects!.map((object) => `${object.Key}@${object.VersionId}`),
    )
    expect(new Set(deleted).size).toBe(2500)
    expect(deleted).toContain('k/01750@v1750')
    expect(progress.at(-1)).toBe(2500)
  })

  it('sends nothing when there is nothing to delete', async () => {
    const result = await deleteObjectVersions(testContext().s3, (async function* () {})(), {bucket})
    expect(result).toEqual({deleted: 0})
    expect(s3Mock).not.toHaveReceivedCommand(DeleteObjectsCommand)
  })

  it('per-key Errors in a 200 response are a delete_failed error naming the keys', async () => {
    s3Mock.on(DeleteObjectsCommand).resolves({
      Deleted: [{Key: 'a', VersionId: '1'}],
      Errors: [{Key: 'b', VersionId: '2', Code: 'AccessDenied', Message: 'Access Denied'}],
    })
    const entries = (async function* () {
      yield {Key: 'a', VersionId: '1'}
      yield {Key: 'b', VersionId: '2'}
    })()
    const failure = deleteObjectVersions(testContext().s3, entries, {bucket})
    await expect(failure).rejects.toBeInstanceOf(AuditforgeError)
    await expect(failure).rejects.toMatchObject({
      code: 'delete_failed',
      exit: 1,
      message: expect.stringMatching(
        /s3:\/\/metis-af-abc-123456789012: 1 could not be deleted, e\.g\. b \(2\): AccessDenied/,
      ),
    })
  })

  it('runs every batch before reporting per-key errors', async () => {
    s3Mock
      .on(DeleteObjectsCommand)
      .resolvesOnce({Errors: [{Key: 'k/00001', VersionId: 'v1', Code: 'InternalError'}]})
      .resolves({})
    const entries = (async function* () {
      yield* versions(0, 2100)
    })()
    await expect(deleteObjectVersions(testContext().s3, entries, {bucket, concurrency: 1})).rejects.toMatchObject({
      code: 'delete_failed',
    })
    expect(s3Mock).toHaveReceivedCommandTimes(DeleteObjectsCommand, 3)
  })

  it('throttling (SlowDown) surfaces as a described error and stops scheduling more batches', async () => {
    s3Mock.on(DeleteObjectsCommand).rejects(s3Error('SlowDown', 503, 'Please reduce your request rate.'))
    const entries = (async function* () {
      yield* versions(0, 10_000)
    })()
    const failure = deleteObjectVersions(testContext().s3, entries, {bucket, concurrency: 1})
    await expect(failure).rejects.toMatchObject({
      code: 'throttled',
      exit: 1,
      message: expect.stringContaining(`Deleting objects s3://${bucket}`),
    })
    expect(s3Mock.commandCalls(DeleteObjectsCommand).length).toBeLessThan(10)
  })
})

describe('URL-encoded listings (EncodingType=url)', () => {
  it('asks for encoded keys and decodes them, markers included; an answer without EncodingType is taken as it is', async () => {
    s3Mock
      .on(ListObjectVersionsCommand)
      .resolvesOnce({
        EncodingType: 'url',
        Versions: [{Key: 'k/a+b%2Bc%0Dd%25e%01f', VersionId: 'v1', Size: 1}],
        IsTruncated: true,
        NextKeyMarker: 'k/a+b%2Bc%0Dd%25e%01f',
        NextVersionIdMarker: 'v1',
      })
      .resolvesOnce({Versions: [{Key: 'k/plain+sign', VersionId: 'v2', Size: 1}], IsTruncated: false})
    const listed = await collect(listObjectVersions(testContext().s3, {bucket, prefix: 'k/'}))
    expect(listed.map((entry) => entry.Key)).toEqual(['k/a b+c\rd%e\u0001f', 'k/plain+sign'])
    const inputs = s3Mock.commandCalls(ListObjectVersionsCommand).map((call) => call.args[0].input)
    expect(inputs.every((input) => input.EncodingType === 'url')).toBe(true)
    expect(inputs[1].KeyMarker).toBe('k/a b+c\rd%e\u0001f')

    s3Mock
      .on(ListObjectsV2Command)
      .resolves({EncodingType: 'url', Contents: [{Key: 'p/x%0Dy', Size: 1}], IsTruncated: false})
    const objects = await collect(listObjects(testContext().s3, {bucket, prefix: 'p/'}))
    expect(objects.map((object) => object.Key)).toEqual(['p/x\ry'])
    expect(s3Mock.commandCalls(ListObjectsV2Command)[0].args[0].input.EncodingType).toBe('url')
  })
})
