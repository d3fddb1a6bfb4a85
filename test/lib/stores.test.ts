import {GetObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {mockClient} from 'aws-sdk-client-mock'
import 'aws-sdk-client-mock-vitest/extend'
import {beforeEach, describe, expect, it} from 'vitest'

import {type AuditEvent, AuditLogStore, DeliverableStore, FindingsStore, bucketFor} from '../../src/lib/stores.js'
import {accountId, callerArn, s3Error, sharedBucket, streamBody, testContext} from './fixtures.js'

const s3Mock = mockClient(S3Client)
const engagementId = 'eng-abc'
const ownBucket = `metis-af-abc-${accountId}`
const logPrefix = 'auditforge/engagements/eng-abc/audit_log/'
const shardKey = (n: number) => `${logPrefix}shard-${String(n).padStart(5, '0')}.jsonl`

/** Events carry their id, so the line written is predictable; `append` adds one when absent. */
function event(extra: Record<string, unknown> = {}): AuditEvent {
  return {
    event: 'test.event',
    timestamp: '2024-03-05T07:08:09Z',
    engagement_id: engagementId,
    actor: callerArn,
    event_id: `evt-${JSON.stringify(extra)}`,
    ...extra,
  }
}

const line = (e: AuditEvent) => `${JSON.stringify(e)}\n`

function puts() {
  return s3Mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input)
}

function shards(...entries: [number, number][]) {
  s3Mock
    .on(ListObjectsV2Command)
    .resolves({Contents: entries.map(([n, size]) => ({Key: shardKey(n), Size: size})), IsTruncated: false})
}

beforeEach(() => {
  s3Mock.reset()
})

describe('bucketFor', () => {
  it('is the engagement bucket when set, else the shared bucket', () => {
    expect(bucketFor({source_bucket: ownBucket}, sharedBucket)).toBe(ownBucket)
    expect(bucketFor({source_bucket: ''}, sharedBucket)).toBe(sharedBucket)
  })
})

describe('AuditLogStore.listShards', () => {
  it('sorts shards by number, not listing order, and ignores other keys', async () => {
    s3Mock.on(ListObjectsV2Command).resolves({
      Contents: [
        {Key: shardKey(10), Size: 10},
        {Key: `${logPrefix}shard-100000.jsonl`, Size: 5},
        {Key: shardKey(2), Size: 2},
        {Key: `${logPrefix}README.txt`, Size: 1},
        {Key: shardKey(0), Size: 7},
        {Key: `${logPrefix}shard-3.jsonl`, Size: 1},
      ],
      IsTruncated: false,
    })
    const listed = await new AuditLogStore(testContext(), sharedBucket).listShards(engagementId)
    expect(listed.map((shard) => shard.shard)).toEqual([0, 2, 10, 100_000])
    expect(listed[0]).toEqual({key: shardKey(0), shard: 0, size: 7})
    expect(s3Mock).toHaveReceivedCommandWith(ListObjectsV2Command, {Bucket: sharedBucket, Prefix: logPrefix})
    expect(s3Mock.commandCalls(ListObjectsV2Command)[0].args[0].input.ExpectedBucketOwner).toBeUndefined()
  })

  it('passes ExpectedBucketOwner when reading an engagement bucket', async () => {
    shards()
    await new AuditLogStore(testContext(), sharedBucket).listShards(engagementId, ownBucket)
    expect(s3Mock).toHaveReceivedCommandWith(ListObjectsV2Command, {
      Bucket: ownBucket,
      ExpectedBucketOwner: accountId,
      Prefix: logPrefix,
    })
  })
})

describe('AuditLogStore.append', () => {
  it('creates shard-00000 with If-None-Match: * when the log is empty', async () => {
    shards()
    s3Mock.on(PutObjectCommand).resolves({})
    await new AuditLogStore(testContext(), sharedBucket).append(event())
    expect(s3Mock).not.toHaveReceivedCommand(GetObjectCommand)
    expect(puts()).toHaveLength(1)
    expect(puts()[0]).toMatchObject({Bucket: sharedBucket, Key: shardKey(0), IfNoneMatch: '*', Body: line(event())})
    expect(puts()[0].IfMatch).toBeUndefined()
  })

  it('appends to the last shard with If-Match its ETag', async () => {
    const first = line(event({n: 1}))
    shards([0, 100], [1, Buffer.byteLength(first)])
    s3Mock.on(GetObjectCommand).callsFake(() => ({Body: streamBody(first), ETag: '"shard1-etag"'}))
    s3Mock.on(PutObjectCommand).resolves({})
    await new AuditLogStore(testContext(), sharedBucket).append(event({n: 2}))
    expect(s3Mock).toHaveReceivedCommandWith(GetObjectCommand, {Bucket: sharedBucket, Key: shardKey(1)})
    expect(puts()).toHaveLength(1)
    expect(puts()[0]).toMatchObject({Key: shardKey(1), IfMatch: '"shard1-etag"', Body: first + line(event({n: 2}))})
    expect(puts()[0].IfNoneMatch).toBeUndefined()
  })

  it('adds the missing newline when the stored shard lacks one', async () => {
    const stored = JSON.stringify(event({n: 1}))
    shards([0, Buffer.byteLength(stored)])
    s3Mock.on(GetObjectCommand).callsFake(() => ({Body: streamBody(stored), ETag: '"e"'}))
    s3Mock.on(PutObjectCommand).resolves({})
    await new AuditLogStore(testContext(), sharedBucket).append(event({n: 2}))
    const body = puts()[0].Body as string
    expect(body).toBe(`${stored}\n${line(event({n: 2}))}`)
    expect(
      body
        .trimEnd()
        .split('\n')
        .map((text) => JSON.parse(text).n),
    ).toEqual([1, 2])
  })

  it('rotates to the next shard (If-None-Match: *) once the last one would grow past maxShardBytes', async () => {
    shards([0, 50], [3, 95])
    s3Mock.on(PutObjectCommand).resolves({})
    await new AuditLogStore(testContext(), sharedBucket, {maxShardBytes: 100}).append(event())
    expect(s3Mock).not.toHaveReceivedCommand(GetObjectCommand)
    expect(puts()[0]).toMatchObject({Key: shardKey(4), IfNoneMatch: '*', Body: line(event())})
  })

  it('keeps appending to a shard while the event still fits', async () => {
    const stored = line(event({n: 1}))
    const next = line(event({n: 2}))
    shards([0, Buffer.byteLength(stored)])
    s3Mock.on(GetObjectCommand).callsFake(() => ({Body: streamBody(stored), ETag: '"e"'}))
    s3Mock.on(PutObjectCommand).resolves({})
    await new AuditLogStore(testContext(), sharedBucket, {maxShardBytes: Buffer.byteLength(stored + next)}).append(
      event({n: 2}),
    )
    expect(puts()[0]).toMatchObject({Key: shardKey(0), IfMatch: '"e"'})
  })

  it('on 412 re-lists, re-reads and retries, so no event is lost', async () => {
    const theirs = line(event({who: 'them'}))
    s3Mock
      .on(ListObjectsV2Command)
      .resolvesOnce({Contents: [], IsTruncated: false})
      .resolves({Contents: [{Key: shardKey(0), Size: Buffer.byteLength(theirs)}], IsTruncated: false})
    s3Mock.on(GetObjectCommand).callsFake(() => ({Body: streamBody(theirs), ETag: '"theirs"'}))
    s3Mock.on(PutObjectCommand).rejectsOnce(s3Error('PreconditionFailed', 412)).resolves({})
    await new AuditLogStore(testContext(), sharedBucket).append(event({who: 'me'}))
    expect(puts()).toHaveLength(2)
    expect(puts()[0]).toMatchObject({Key: shardKey(0), IfNoneMatch: '*'})
    expect(puts()[1]).toMatchObject({Key: shardKey(0), IfMatch: '"theirs"', Body: theirs + line(event({who: 'me'}))})
  })

  it('a lost answer whose append landed in a shard that is no longer the last is not written again', async () => {
    // Attempt 1 appends to shard 0 and lands, but the answer is lost; meanwhile another writer
    // starts shard 1. The retry must find the event in shard 0, not append it to shard 1.
    const stored = new Map<string, string>([[shardKey(0), line(event({n: 0}))]])
    s3Mock.on(ListObjectsV2Command).callsFake(async () => ({
      Contents: [...stored].map(([Key, body]) => ({Key, Size: Buffer.byteLength(body)})),
      IsTruncated: false,
    }))
    s3Mock.on(GetObjectCommand).callsFake(async (input: {Key: string}) => {
      const body = stored.get(input.Key)
      if (body === undefined) throw new NoSuchKey({$metadata: {httpStatusCode: 404}, message: 'none'})
      return {Body: streamBody(body), ETag: `"${Buffer.byteLength(body)}"`}
    })
    let calls = 0
    s3Mock.on(PutObjectCommand).callsFake(async (input: {Key: string; Body: string}) => {
      calls++
      stored.set(input.Key, input.Body)
      if (calls === 1) {
        stored.set(shardKey(1), line(event({n: 'other writer'})))
        throw Object.assign(new Error('socket hang up'), {code: 'ECONNRESET'})
      }
      return {}
    })
    await new AuditLogStore(testContext(), sharedBucket).append(event({n: 1}))
    const everything = [...stored.values()].join('')
    expect(everything.split(`"event_id":"evt-{\\"n\\":1}"`)).toHaveLength(2)
    expect(calls).toBe(1)
  })

  it('gives up with exit 6 when the log keeps changing', async () => {
    shards()
    // Each retry looks for its own line in the shard it tried: not there.
    s3Mock.on(GetObjectCommand).rejects(new NoSuchKey({$metadata: {httpStatusCode: 404}, message: 'none'}))
    s3Mock.on(PutObjectCommand).rejects(s3Error('PreconditionFailed', 412))
    await expect(
      new AuditLogStore(testContext(), sharedBucket, {maxAttempts: 3}).append(event()),
    ).rejects.toMatchObject({
      exit: 6,
      code: 'conflict',
    })
    expect(puts()).toHaveLength(3)
  })

  it('other write failures are described with bucket and key', async () => {
    shards()
    s3Mock.on(PutObjectCommand).rejects(s3Error('AccessDenied', 403))
    await expect(new AuditLogStore(testContext(), sharedBucket).append(event())).rejects.toMatchObject({
      exit: 1,
      message: `Appending to the audit log s3://${sharedBucket}/${shardKey(0)}: access denied`,
    })
  })

  it('writes to the engagement bucket with ExpectedBucketOwner on every call', async () => {
    const stored = line(event({n: 1}))
    shards([0, Buffer.byteLength(stored)])
    s3Mock.on(GetObjectCommand).callsFake(() => ({Body: streamBody(stored), ETag: '"e"'}))
    s3Mock.on(PutObjectCommand).resolves({})
    await new AuditLogStore(testContext(), sharedBucket).append(event({n: 2}), ownBucket)
    const inputs = s3Mock.calls().map((call) => (call.args[0] as unknown as {input: Record<string, unknown>}).input)
    expect(inputs).toHaveLength(3)
    for (const input of inputs) expect(input).toMatchObject({Bucket: ownBucket, ExpectedBucketOwner: accountId})
  })
})

describe('FindingsStore and DeliverableStore', () => {
  it('reads findings as JSON and a missing findings.json as undefined', async () => {
    s3Mock
      .on(GetObjectCommand)
      .resolvesOnce({Body: streamBody('{"findings": [1, 2]}')})
      .rejectsOnce(new NoSuchKey({$metadata: {httpStatusCode: 404}, message: 'no'}))
    const store = new FindingsStore(testContext(), sharedBucket)
    await expect(store.get(engagementId)).resolves.toEqual({findings: [1, 2]})
    await expect(store.get(engagementId, ownBucket)).resolves.toBeUndefined()
    expect(s3Mock).toHaveReceivedNthCommandWith(GetObjectCommand, 1, {
      Bucket: sharedBucket,
      Key: 'auditforge/engagements/eng-abc/findings.json',
    })
    expect(s3Mock).toHaveReceivedNthCommandWith(GetObjectCommand, 2, {
      Bucket: ownBucket,
      ExpectedBucketOwner: accountId,
    })
  })

  it('writes findings and deliverables at their keys with content types', async () => {
    s3Mock.on(PutObjectCommand).resolves({})
    await new FindingsStore(testContext(), sharedBucket).put(engagementId, {a: 1}, ownBucket)
    const deliverables = new DeliverableStore(testContext(), sharedBucket)
    await deliverables.put(engagementId, 'docx', new Uint8Array([1, 2]))
    await deliverables.putMethodology(engagementId, '# Method')
    expect(puts()[0]).toMatchObject({
      Bucket: ownBucket,
      ExpectedBucketOwner: accountId,
      Key: 'auditforge/engagements/eng-abc/findings.json',
      ContentType: 'application/json',
    })
    expect(JSON.parse(puts()[0].Body as string)).toEqual({a: 1})
    expect(puts()[1]).toMatchObject({
      Bucket: sharedBucket,
      Key: 'auditforge/deliverables/eng-abc.docx',
      ContentType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    })
    expect(puts()[1].ExpectedBucketOwner).toBeUndefined()
    expect(puts()[2]).toMatchObject({
      Key: 'auditforge/deliverables/eng-abc-methodology.md',
      ContentType: 'text/markdown; charset=utf-8',
    })
  })

  it('a read failure other than NoSuchKey names the action, bucket and key', async () => {
    s3Mock.on(GetObjectCommand).rejects(s3Error('AccessDenied', 403))
    await expect(new DeliverableStore(testContext(), sharedBucket).get(engagementId, 'md')).rejects.toMatchObject({
      message: `Reading a deliverable s3://${sharedBucket}/auditforge/deliverables/eng-abc.md: access denied`,
    })
  })

  it('refuses a bad id before any call', async () => {
    await expect(new FindingsStore(testContext(), sharedBucket).get('../x')).rejects.toMatchObject({exit: 2})
    expect(s3Mock).not.toHaveReceivedAnyCommand()
  })
})
