import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutBucketEncryptionCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import {mockClient} from 'aws-sdk-client-mock'
import 'aws-sdk-client-mock-vitest/extend'
import {beforeEach, describe, expect, it} from 'vitest'

import type {EngagementRecord} from '../../src/lib/engagement-index.js'
import {createEngagement, deleteEngagement, validateCreateInput} from '../../src/lib/engagements.js'
import {indexKey} from '../../src/lib/layout.js'
import {accountId, callerArn, recordOf, s3Error, serveIndex, sharedBucket, streamBody, testContext} from './fixtures.js'

const s3Mock = mockClient(S3Client)

function indexPuts() {
  return s3Mock
    .commandCalls(PutObjectCommand)
    .map((call) => call.args[0].input)
    .filter((input) => input.Key === indexKey)
}

function logPuts() {
  return s3Mock
    .commandCalls(PutObjectCommand)
    .map((call) => call.args[0].input)
    .filter((input) => input.Key !== indexKey)
}

function emptyIndex() {
  s3Mock.on(GetObjectCommand, {Key: indexKey}).rejects(new NoSuchKey({$metadata: {httpStatusCode: 404}, message: 'no'}))
}

function bucketCanBeCreated() {
  s3Mock
    .on(HeadBucketCommand)
    .rejectsOnce(new NotFound({$metadata: {httpStatusCode: 404}, message: 'Not Found'}))
    .resolves({})
  s3Mock.on(CreateBucketCommand).resolves({})
  s3Mock.on(GetBucketTaggingCommand).rejects(s3Error('NoSuchTagSet', 404))
  s3Mock.on(ListObjectVersionsCommand).resolves({})
  s3Mock.on(PutPublicAccessBlockCommand).resolves({})
  s3Mock.on(PutBucketOwnershipControlsCommand).resolves({})
  s3Mock.on(PutBucketEncryptionCommand).resolves({})
  s3Mock.on(PutBucketVersioningCommand).resolves({})
  s3Mock.on(PutBucketTaggingCommand).resolves({})
}

const tombstonesKey = 'auditforge/decommissioned-buckets.json'

beforeEach(() => {
  s3Mock.reset()
  // No bucket has been decommissioned yet: the tombstones object next to the index does not exist.
  s3Mock
    .on(GetObjectCommand, {Key: tombstonesKey})
    .rejects(new NoSuchKey({$metadata: {httpStatusCode: 404}, message: 'no'}))
})

describe('createEngagement', () => {
  it('writes the record in the shared bucket and the first audit-log event with the caller as actor', async () => {
    emptyIndex()
    s3Mock.on(ListObjectsV2Command).resolves({Contents: [], IsTruncated: false})
    s3Mock.on(PutObjectCommand).resolves({})
    const steps: string[] = []
    const {record, warnings} = await createEngagement(
      testContext(),
      sharedBucket,
      {name: '  Acme 2024 audit ', clientId: 'acme', isolated: false},
      (step) => steps.push(step),
    )

    expect(warnings).toEqual([])
    expect(record.engagement_id).toMatch(/^eng-[0-9a-f]{12}$/)
    expect(record).toEqual({
      engagement_id: record.engagement_id,
      name: 'Acme 2024 audit',
      client_id: 'acme',
      created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/),
      source_bucket: '',
      findings_key: `auditforge/engagements/${record.engagement_id}/findings.json`,
      audit_log_key: `auditforge/engagements/${record.engagement_id}/audit_log/`,
    })
    expect(steps).toEqual(['record', 'audit-log'])
    expect(s3Mock).not.toHaveReceivedCommand(CreateBucketCommand)

    expect(indexPuts()).toHaveLength(1)
    expect(indexPuts()[0]).toMatchObject({Bucket: sharedBucket, IfNoneMatch: '*'})
    expect(JSON.parse(indexPuts()[0].Body as string)).toEqual({engagements: [record]})

    expect(logPuts()).toHaveLength(1)
    expect(logPuts()[0]).toMatchObject({
      Bucket: sharedBucket,
      Key: `${record.audit_log_key}shard-00000.jsonl`,
      IfNoneMatch: '*',
    })
    const logged = JSON.parse(logPuts()[0].Body as string)
    expect(logged).toMatchObject({
      event: 'engagement.created',
      engagement_id: record.engagement_id,
      actor: callerArn,
      timestamp: record.created_at,
    })
  })

  it('provisions the bucket when isolated and writes the first event there', async () => {
    emptyIndex()
    bucketCanBeCreated()
    s3Mock.on(ListObjectsV2Command).resolves({Contents: [], IsTruncated: false})
    s3Mock.on(PutObjectCommand).resolves({})
    const {record} = await createEngagement(testContext(), sharedBucket, {
      name: 'Iso',
      isolated: true,
      firmId: 'firm-1',
    })
    const expectedBucket = `metis-af-${record.engagement_id.slice(4)}-${accountId}`
    expect(record.source_bucket).toBe(expectedBucket)
    expect(record.firm_id).toBe('firm-1')
    expect(s3Mock).toHaveReceivedCommandWith(CreateBucketCommand, {Bucket: expectedBucket})
    expect(logPuts()[0]).toMatchObject({Bucket: expectedBucket, ExpectedBucketOwner: accountId})
    expect(indexPuts()[0].Bucket).toBe(sharedBucket)
  })

  it('removes the fresh bucket (DeleteBucket) when the index write fails, and rethrows', async () => {
    emptyIndex()
    bucketCanBeCreated()
    s3Mock.on(PutObjectCommand).resolves({})
    s3Mock.on(PutObjectCommand, {Key: indexKey}).rejects(s3Error('AccessDenied', 403))
    s3Mock.on(DeleteBucketCommand).resolves({})
    const steps: string[] = []
    await expect(
      createEngagement(testContext(), sharedBucket, {name: 'Doomed', isolated: true}, (step) => steps.push(step)),
    ).rejects.toMatchObject({code: 'access_denied', exit: 1, message: expect.stringContaining(indexKey)})

    const created = s3Mock.commandCalls(CreateBucketCommand)[0].args[0].input.Bucket
    expect(created).toMatch(/^metis-af-[0-9a-f]{12}-123456789012$/)
    expect(s3Mock).toHaveReceivedCommandExactlyOnceWith(DeleteBucketCommand, {
      Bucket: created,
      ExpectedBucketOwner: accountId,
    })
    expect(steps.slice(-2)).toEqual(['record', 'rollback'])
    expect(logPuts()).toEqual([])
  })

  it('removes the fresh bucket when a control cannot be applied, and writes no record', async () => {
    emptyIndex()
    bucketCanBeCreated()
    s3Mock.on(PutBucketVersioningCommand).rejects(s3Error('AccessDenied', 403))
    s3Mock.on(DeleteBucketCommand).resolves({})
    await expect(createEngagement(testContext(), sharedBucket, {name: 'Half', isolated: true})).rejects.toMatchObject({
      code: 'access_denied',
      exit: 1,
      message: expect.stringContaining('was removed again'),
    })
    const created = s3Mock.commandCalls(CreateBucketCommand)[0].args[0].input.Bucket
    expect(s3Mock).toHaveReceivedCommandExactlyOnceWith(DeleteBucketCommand, {
      Bucket: created,
      ExpectedBucketOwner: accountId,
    })
    expect(indexPuts()).toEqual([])
  })

  it('keeps the fresh bucket when the record landed although the write reported an error', async () => {
    bucketCanBeCreated()
    let written: string | undefined
    s3Mock.on(GetObjectCommand, {Key: indexKey}).callsFake(() => {
      if (written === undefined) throw s3Error('NoSuchKey', 404)
      return {Body: streamBody(written), ETag: '"2"'}
    })
    s3Mock.on(PutObjectCommand).resolves({})
    // The write lands, but every answer is lost: the last attempt reports a dropped connection
    // and the re-read inside the retry loop fails too; only the final check sees the record.
    let reads = 0
    s3Mock.on(PutObjectCommand, {Key: indexKey}).callsFake((input: {Body: string}) => {
      written = input.Body
      throw Object.assign(new Error('socket hang up'), {code: 'ECONNRESET'})
    })
    s3Mock.on(GetObjectCommand, {Key: indexKey}).callsFake(() => {
      reads++
      if (written === undefined) throw s3Error('NoSuchKey', 404)
      if (reads === 2) throw Object.assign(new Error('socket hang up'), {code: 'ECONNRESET'})
      return {Body: streamBody(written), ETag: '"2"'}
    })
    await expect(
      createEngagement(testContext(), sharedBucket, {name: 'Lost answer', isolated: true}),
    ).rejects.toMatchObject({code: 'network'})
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketCommand)
  })

  it('does not remove a bucket it did not create (already ours) when the index write fails', async () => {
    emptyIndex()
    bucketCanBeCreated()
    s3Mock.on(HeadBucketCommand).resolves({})
    s3Mock.on(GetBucketTaggingCommand).resolves({TagSet: [{Key: 'auditforge:index', Value: sharedBucket}]})
    s3Mock.on(PutObjectCommand, {Key: indexKey}).rejects(s3Error('AccessDenied', 403))
    await expect(createEngagement(testContext(), sharedBucket, {name: 'X', isolated: true})).rejects.toMatchObject({
      exit: 1,
    })
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketCommand)
  })

  it('reports both failures when the bucket cannot be removed either', async () => {
    emptyIndex()
    bucketCanBeCreated()
    s3Mock.on(PutObjectCommand, {Key: indexKey}).rejects(s3Error('AccessDenied', 403))
    s3Mock.on(DeleteBucketCommand).rejects(s3Error('InternalError', 500))
    await expect(createEngagement(testContext(), sharedBucket, {name: 'X', isolated: true})).rejects.toMatchObject({
      exit: 1,
      message: expect.stringMatching(
        /access denied; the new bucket metis-af-[0-9a-f]{12}-123456789012 could not be removed either/,
      ),
    })
  })

  it('keeps the record and warns when the first audit-log event cannot be written', async () => {
    emptyIndex()
    s3Mock.on(ListObjectsV2Command).rejects(s3Error('AccessDenied', 403))
    s3Mock.on(PutObjectCommand).resolves({})
    const {record, warnings} = await createEngagement(testContext(), sharedBucket, {name: 'W', isolated: false})
    expect(indexPuts()).toHaveLength(1)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('access denied')
    expect(record.engagement_id).toMatch(/^eng-/)
  })

  it.each([
    [{name: '', isolated: false}],
    [{name: '   ', isolated: false}],
    [{name: 'x'.repeat(201), isolated: false}],
    [{name: 'bad\u0007name', isolated: false}],
    [{name: 'ok', clientId: '../etc', isolated: false}],
    [{name: 'ok', firmId: '-firm', isolated: false}],
  ])('refuses invalid input %j with exit 2 before any call', async (input) => {
    expect(() => validateCreateInput(input)).toThrow(expect.objectContaining({exit: 2}))
    await expect(createEngagement(testContext(), sharedBucket, input)).rejects.toMatchObject({exit: 2})
    expect(s3Mock).not.toHaveReceivedAnyCommand()
  })
})

describe('deleteEngagement', () => {
  const indexWith = (...records: EngagementRecord[]) => serveIndex(s3Mock, ...records)

  /** The shared bucket as S3 would list it by prefix: eng-abc's keys next to eng-abcd's. */
  function sharedListing() {
    const byPrefix: Record<string, string[]> = {
      'auditforge/engagements/eng-abc/': [
        'auditforge/engagements/eng-abc/findings.json',
        'auditforge/engagements/eng-abc/audit_log/shard-00000.jsonl',
      ],
      'auditforge/audit_logs/eng-abc/': ['auditforge/audit_logs/eng-abc/old.jsonl'],
      'auditforge/deliverables/eng-abc': [
        'auditforge/deliverables/eng-abc-methodology.md',
        'auditforge/deliverables/eng-abc.json',
        'auditforge/deliverables/eng-abcd-methodology.md',
        'auditforge/deliverables/eng-abcd.json',
      ],
      'auditforge/exports/eng-abc-': ['auditforge/exports/eng-abc-20240101T000000Z.jsonl'],
    }
    s3Mock.on(ListObjectVersionsCommand).callsFake((input: {Prefix?: string}) => {
      const keys = byPrefix[input.Prefix ?? ''] ?? []
      return {
        Versions: keys.map((Key) => ({Key, VersionId: 'v1', Size: 1})),
        DeleteMarkers: keys.slice(0, 1).map((Key) => ({Key, VersionId: 'dm'})),
        IsTruncated: false,
      }
    })
  }

  it("without --keep-data deletes every version of its own keys from the shared bucket, and nobody else's", async () => {
    indexWith(recordOf('eng-abc'), recordOf('eng-abcd'))
    sharedListing()
    s3Mock.on(DeleteObjectsCommand).resolves({})
    s3Mock.on(PutObjectCommand).resolves({})

    // No bucket named after the engagement exists either.
    s3Mock.on(HeadBucketCommand).rejects(new NotFound({$metadata: {httpStatusCode: 404}, message: 'none'}))
    const result = await deleteEngagement(testContext(), sharedBucket, 'eng-abc', {keepData: false})

    const deleted = s3Mock
      .commandCalls(DeleteObjectsCommand)
      .flatMap((call) => call.args[0].input.Delete!.Objects!.map((object) => `${object.Key}@${object.VersionId}`))
      .sort()
    expect(deleted).toEqual(
      [
        'auditforge/audit_logs/eng-abc/old.jsonl@dm',
        'auditforge/audit_logs/eng-abc/old.jsonl@v1',
        'auditforge/deliverables/eng-abc-methodology.md@dm',
        'auditforge/deliverables/eng-abc-methodology.md@v1',
        'auditforge/deliverables/eng-abc.json@v1',
        'auditforge/engagements/eng-abc/audit_log/shard-00000.jsonl@v1',
        'auditforge/engagements/eng-abc/findings.json@dm',
        'auditforge/engagements/eng-abc/findings.json@v1',
        'auditforge/exports/eng-abc-20240101T000000Z.jsonl@dm',
        'auditforge/exports/eng-abc-20240101T000000Z.jsonl@v1',
      ].sort(),
    )
    expect(deleted.some((key) => key.includes('eng-abcd'))).toBe(false)
    for (const call of s3Mock.commandCalls(DeleteObjectsCommand)) expect(call.args[0].input.Bucket).toBe(sharedBucket)

    expect(result).toEqual({
      engagement_id: 'eng-abc',
      source_bucket: '',
      shared_objects_deleted: 10,
      bucket_name: null,
      bucket: null,
      bucket_objects_deleted: 0,
      trail_selector: null,
      cleanup_error: null,
      retry_command: null,
    })
    expect(indexPuts()).toHaveLength(1)
    expect(JSON.parse(indexPuts()[0].Body as string)).toEqual({engagements: [recordOf('eng-abcd')]})
    expect(indexPuts()[0].IfMatch).toBe('"1"')
  })

  it('with --keep-data only removes the record', async () => {
    const own = `metis-af-abc-${accountId}`
    indexWith(recordOf('eng-abc', own))
    s3Mock.on(PutObjectCommand).resolves({})
    const result = await deleteEngagement(testContext(), sharedBucket, 'eng-abc', {keepData: true})
    expect(result.bucket).toBe('kept')
    expect(s3Mock).not.toHaveReceivedCommand(ListObjectVersionsCommand)
    expect(s3Mock).not.toHaveReceivedCommand(DeleteObjectsCommand)
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketCommand)
    expect(JSON.parse(indexPuts()[0].Body as string)).toEqual({engagements: []})
  })

  it('decommissions the engagement bucket after removing the record', async () => {
    const own = `metis-af-abc-${accountId}`
    s3Mock.on(ListObjectVersionsCommand).resolves({IsTruncated: false})
    s3Mock
      .on(ListObjectVersionsCommand, {Bucket: own})
      .resolves({Versions: [{Key: 'auditforge/engagements/eng-abc/findings.json', VersionId: 'v'}], IsTruncated: false})
    s3Mock.on(DeleteObjectsCommand).resolves({})
    s3Mock.on(PutObjectCommand).resolves({})
    indexWith(recordOf('eng-abc', own))
    s3Mock.on(GetBucketTaggingCommand).resolves({
      TagSet: [
        {Key: 'auditforge:managed-by', Value: 'auditforge'},
        {Key: 'auditforge:engagement-id', Value: 'eng-abc'},
        {Key: 'auditforge:index', Value: sharedBucket},
      ],
    })
    s3Mock.on(ListMultipartUploadsCommand).resolves({IsTruncated: false})
    s3Mock.on(DeleteBucketCommand).resolves({})
    const result = await deleteEngagement(testContext(), sharedBucket, 'eng-abc', {keepData: false})
    expect(result).toMatchObject({bucket: 'decommissioned', bucket_objects_deleted: 1, source_bucket: own})
    expect(s3Mock).toHaveReceivedCommandWith(DeleteBucketCommand, {Bucket: own, ExpectedBucketOwner: accountId})
    const order = s3Mock
      .calls()
      .map((call) => (call.args[0] as unknown as {constructor: {name: string}}).constructor.name)
    expect(order.indexOf('PutObjectCommand')).toBeLessThan(order.indexOf('DeleteBucketCommand'))
    // Its name is tombstoned next to the index, conditionally, before any of its objects goes.
    const tombstone = s3Mock.commandCalls(PutObjectCommand).find((call) => call.args[0].input.Key === tombstonesKey)!
      .args[0].input
    expect(tombstone).toMatchObject({Bucket: sharedBucket, IfNoneMatch: '*'})
    expect(JSON.parse(String(tombstone.Body)).tombstones).toEqual([
      {
        bucket: own,
        engagement_id: 'eng-abc',
        decommissioned_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        decommissioned_by: callerArn,
      },
    ])
    const calls = s3Mock.calls().map((call) => call.args[0].input as {Key?: string; Bucket?: string})
    const tombstoneAt = calls.findIndex((input) => input.Key === tombstonesKey && 'Body' in input)
    const firstDelete = order.findIndex((name, i) => name === 'DeleteObjectsCommand' && calls[i].Bucket === own)
    expect(tombstoneAt).toBeLessThan(firstDelete)
  })

  it('never decommissions a bucket named for another engagement, nor one another record points at', async () => {
    const others = `metis-af-xyz-${accountId}`
    s3Mock.on(ListObjectVersionsCommand).resolves({IsTruncated: false})
    s3Mock.on(PutObjectCommand).resolves({})
    s3Mock.on(GetBucketTaggingCommand).resolves({TagSet: [{Key: 'auditforge:managed-by', Value: 'auditforge'}]})
    indexWith(recordOf('eng-abc', others), recordOf('eng-xyz', others))
    const misnamed = await deleteEngagement(testContext(), sharedBucket, 'eng-abc', {keepData: false})
    expect(misnamed).toMatchObject({
      bucket: 'cleanup_failed',
      cleanup_error: expect.stringContaining('not the bucket of eng-abc'),
    })

    const own = `metis-af-abc-${accountId}`
    indexWith(recordOf('eng-abc', own), recordOf('eng-copy', own))
    const shared = await deleteEngagement(testContext(), sharedBucket, 'eng-abc', {keepData: false})
    expect(shared).toMatchObject({bucket: 'cleanup_failed', cleanup_error: expect.stringContaining('eng-copy')})
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketCommand)
    expect(s3Mock).not.toHaveReceivedCommandWith(ListObjectVersionsCommand, {Bucket: others})
    expect(s3Mock).not.toHaveReceivedCommandWith(ListObjectVersionsCommand, {Bucket: own})
  })

  it("never decommissions a bucket the record points at that is bound to no index (the record may be a copy of another environment's)", async () => {
    const own = `metis-af-abc-${accountId}`
    s3Mock.on(ListObjectVersionsCommand).resolves({IsTruncated: false})
    s3Mock.on(PutObjectCommand).resolves({})
    indexWith(recordOf('eng-abc', own))
    s3Mock.on(GetBucketTaggingCommand).resolves({
      TagSet: [
        {Key: 'auditforge:managed-by', Value: 'auditforge'},
        {Key: 'auditforge:engagement-id', Value: 'eng-abc'},
      ],
    })
    const result = await deleteEngagement(testContext(), sharedBucket, 'eng-abc', {keepData: false})
    expect(result).toMatchObject({
      bucket: 'cleanup_failed',
      cleanup_error: expect.stringContaining('not bound to any engagement index'),
    })
    expect(s3Mock).not.toHaveReceivedCommandWith(ListObjectVersionsCommand, {Bucket: own})
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketCommand)
  })

  it('a failed bucket cleanup is reported with the retry command; the deletion stands', async () => {
    const own = `metis-af-abc-${accountId}`
    s3Mock.on(ListObjectVersionsCommand).resolves({IsTruncated: false})
    s3Mock.on(PutObjectCommand).resolves({})
    indexWith(recordOf('eng-abc', own))
    s3Mock.on(GetBucketTaggingCommand).rejects(s3Error('AccessDenied', 403))
    const result = await deleteEngagement(testContext(), sharedBucket, 'eng-abc', {keepData: false})
    expect(result.bucket).toBe('cleanup_failed')
    expect(result.cleanup_error).toContain('access denied')
    expect(result.retry_command).toBe(`auditforge bucket decommission ${own} --yes`)
    expect(indexPuts()).toHaveLength(1)
    expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketCommand)
  })

  describe('the bucket named after a shared-bucket engagement (left by a rollback or an interrupted migration)', () => {
    const own = `metis-af-abc-${accountId}`
    const boundTags = (index: string | undefined) => [
      {Key: 'auditforge:managed-by', Value: 'auditforge'},
      {Key: 'auditforge:engagement-id', Value: 'eng-abc'},
      ...(index === undefined ? [] : [{Key: 'auditforge:index', Value: index}]),
    ]
    function derivedBucketExists(tags: {Key: string; Value: string}[]) {
      s3Mock.on(ListObjectVersionsCommand).resolves({IsTruncated: false})
      s3Mock.on(ListObjectVersionsCommand, {Bucket: own}).resolves({
        Versions: [{Key: 'auditforge/engagements/eng-abc/findings.json', VersionId: 'v'}],
        IsTruncated: false,
      })
      s3Mock.on(DeleteObjectsCommand).resolves({})
      s3Mock.on(PutObjectCommand).resolves({})
      s3Mock.on(HeadBucketCommand, {Bucket: own}).resolves({})
      s3Mock.on(GetBucketTaggingCommand).resolves({TagSet: tags})
      s3Mock.on(ListMultipartUploadsCommand).resolves({IsTruncated: false})
      s3Mock.on(DeleteBucketCommand).resolves({})
      indexWith(recordOf('eng-abc'))
    }

    it('is decommissioned when it is bound to this index', async () => {
      derivedBucketExists(boundTags(sharedBucket))
      const result = await deleteEngagement(testContext(), sharedBucket, 'eng-abc', {keepData: false})
      expect(result).toMatchObject({
        source_bucket: '',
        bucket_name: own,
        bucket: 'decommissioned',
        bucket_objects_deleted: 1,
      })
      expect(s3Mock).toHaveReceivedCommandWith(DeleteBucketCommand, {Bucket: own, ExpectedBucketOwner: accountId})
    })

    it.each([
      ['bound to another index', boundTags('staging-shared'), 'staging-shared'],
      ['bound to no index', boundTags(undefined), 'not bound'],
    ])('is left in place when %s', async (_what, tags, reason) => {
      derivedBucketExists(tags)
      const result = await deleteEngagement(testContext(), sharedBucket, 'eng-abc', {keepData: false})
      expect(result).toMatchObject({
        bucket_name: own,
        bucket: 'left_in_place',
        cleanup_error: expect.stringContaining(reason),
      })
      expect(s3Mock).not.toHaveReceivedCommandWith(ListObjectVersionsCommand, {Bucket: own})
      expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketCommand)
    })

    it('is kept with --keep-data, without even being looked for', async () => {
      derivedBucketExists(boundTags(sharedBucket))
      const result = await deleteEngagement(testContext(), sharedBucket, 'eng-abc', {keepData: true})
      expect(result).toMatchObject({bucket_name: null, bucket: null})
      expect(s3Mock).not.toHaveReceivedCommand(HeadBucketCommand)
      expect(s3Mock).not.toHaveReceivedCommand(DeleteBucketCommand)
    })
  })

  it('an unknown engagement is exit 3 and nothing is deleted', async () => {
    indexWith(recordOf('eng-abcd'))
    await expect(deleteEngagement(testContext(), sharedBucket, 'eng-abc', {keepData: false})).rejects.toMatchObject({
      exit: 3,
    })
    expect(s3Mock).not.toHaveReceivedCommand(DeleteObjectsCommand)
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand)
  })
})
