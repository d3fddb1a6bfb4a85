import {GetObjectCommand, NoSuchBucket, NoSuchKey, PutObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {mockClient} from 'aws-sdk-client-mock'
import 'aws-sdk-client-mock-vitest/extend'
import {beforeEach, describe, expect, it} from 'vitest'

import {EngagementIndex, type EngagementRecord, parseIndex, serializeIndex} from '../../src/lib/engagement-index.js'
import {AuditforgeError} from '../../src/lib/errors.js'
import {indexKey} from '../../src/lib/layout.js'
import {s3Error, sharedBucket, streamBody, systemError, testContext} from './fixtures.js'

const s3Mock = mockClient(S3Client)
const noSleep = async () => {}

function record(id: string, extra: Record<string, unknown> = {}): EngagementRecord {
  return {
    engagement_id: id,
    name: `Engagement ${id}`,
    client_id: 'client-1',
    created_at: '2024-03-05T07:08:09Z',
    source_bucket: '',
    findings_key: `auditforge/engagements/${id}/findings.json`,
    audit_log_key: `auditforge/engagements/${id}/audit_log/`,
    ...extra,
  }
}

/** A GetObject reply for the index; a fresh stream every time. */
function indexReply(document: unknown, etag: string) {
  return {Body: streamBody(typeof document === 'string' ? document : JSON.stringify(document)), ETag: etag}
}

function putCalls() {
  return s3Mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input)
}

function writtenDocument(n = -1): unknown {
  const body = putCalls().at(n)?.Body
  expect(typeof body).toBe('string')
  return JSON.parse(body as string)
}

function newIndex(options = {}) {
  return new EngagementIndex(testContext().s3, sharedBucket, {sleep: noSleep, ...options})
}

const missing = () => new NoSuchKey({$metadata: {httpStatusCode: 404}, message: 'The specified key does not exist.'})

describe('EngagementIndex', () => {
  beforeEach(() => {
    s3Mock.reset()
  })

  it('reads a missing index as empty, and the first write creates it with If-None-Match: *', async () => {
    s3Mock.on(GetObjectCommand).rejects(missing())
    s3Mock.on(PutObjectCommand).resolves({ETag: '"v1"'})
    const index = newIndex()
    await expect(index.list()).resolves.toEqual([])

    await index.add(record('eng-aaa'))

    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 1)
    const put = putCalls()[0]
    expect(put).toMatchObject({Bucket: sharedBucket, Key: indexKey, IfNoneMatch: '*', ContentType: 'application/json'})
    expect(put.IfMatch).toBeUndefined()
    expect(writtenDocument()).toEqual({engagements: [record('eng-aaa')]})
    expect(s3Mock).toHaveReceivedCommandWith(GetObjectCommand, {Bucket: sharedBucket, Key: indexKey})
  })

  it('rewrites an existing index with If-Match the ETag it read', async () => {
    s3Mock.on(GetObjectCommand).callsFake(() => indexReply({engagements: [record('eng-aaa')]}, '"etag-7"'))
    s3Mock.on(PutObjectCommand).resolves({})
    await newIndex().add(record('eng-bbb'))

    const put = putCalls()[0]
    expect(put.IfMatch).toBe('"etag-7"')
    expect(put.IfNoneMatch).toBeUndefined()
    expect(writtenDocument()).toEqual({engagements: [record('eng-aaa'), record('eng-bbb')]})
  })

  it('keeps a top-level array a top-level array', async () => {
    s3Mock.on(GetObjectCommand).callsFake(() => indexReply([record('eng-aaa')], '"1"'))
    s3Mock.on(PutObjectCommand).resolves({})
    await newIndex().add(record('eng-bbb'))
    expect(writtenDocument()).toEqual([record('eng-aaa'), record('eng-bbb')])
  })

  it('keeps other top-level fields and unknown record fields of a wrapped list', async () => {
    const stored = {
      version: 3,
      updated_by: 'platform',
      engagements: [record('eng-aaa', {status: 'active', scoring: {model: 'x', weights: [1, 2]}, firm_id: 'firm-9'})],
    }
    s3Mock.on(GetObjectCommand).callsFake(() => indexReply(stored, '"1"'))
    s3Mock.on(PutObjectCommand).resolves({})
    await newIndex().add(record('eng-bbb'))
    expect(writtenDocument()).toEqual({...stored, engagements: [...stored.engagements, record('eng-bbb')]})
  })

  it('keeps an {engagements: {id: record}} map a map', async () => {
    const stored = {schema: 'v2', engagements: {'eng-aaa': {...record('eng-aaa'), legacy_flag: true}}}
    s3Mock.on(GetObjectCommand).callsFake(() => indexReply(stored, '"1"'))
    s3Mock.on(PutObjectCommand).resolves({})
    const index = newIndex()
    await expect(index.get('eng-aaa')).resolves.toMatchObject({engagement_id: 'eng-aaa', legacy_flag: true})

    await index.add(record('eng-bbb'))

    const written = writtenDocument() as {schema: string; engagements: Record<string, EngagementRecord>}
    expect(written.schema).toBe('v2')
    expect(Array.isArray(written.engagements)).toBe(false)
    expect(Object.keys(written.engagements)).toEqual(['eng-aaa', 'eng-bbb'])
    expect(written.engagements['eng-aaa']).toMatchObject({legacy_flag: true, name: 'Engagement eng-aaa'})
    expect(written.engagements['eng-bbb']).toMatchObject({name: 'Engagement eng-bbb', source_bucket: ''})
  })

  it('keeps a top-level {id: record} map a map', async () => {
    s3Mock
      .on(GetObjectCommand)
      .callsFake(() => indexReply({'eng-aaa': {name: 'A', source_bucket: '', extra: 1}}, '"1"'))
    s3Mock.on(PutObjectCommand).resolves({})
    await newIndex().setSourceBucket('eng-aaa', 'metis-af-aaa-123456789012')
    const written = writtenDocument() as Record<string, Record<string, unknown>>
    expect(Object.keys(written)).toEqual(['eng-aaa'])
    expect(written['eng-aaa']).toMatchObject({name: 'A', extra: 1, source_bucket: 'metis-af-aaa-123456789012'})
  })

  it('a map whose entries carry no engagement_id gets none added on rewrite (records kept as they are)', async () => {
    const theirs = {name: 'A', client_id: 'c', source_bucket: '', extra: {deep: [1]}}
    s3Mock.on(GetObjectCommand).callsFake(() => indexReply({engagements: {'eng-aaa': theirs}}, '"1"'))
    s3Mock.on(PutObjectCommand).resolves({})
    const index = newIndex()
    await expect(index.get('eng-aaa')).resolves.toMatchObject({engagement_id: 'eng-aaa', name: 'A'})

    await index.add(record('eng-bbb'))

    const {engagement_id: _id, ...mineWithoutId} = record('eng-bbb')
    expect(writtenDocument()).toEqual({engagements: {'eng-aaa': theirs, 'eng-bbb': mineWithoutId}})
  })

  it('a map whose entries do carry engagement_id keeps it in every entry, the new one included', async () => {
    s3Mock.on(GetObjectCommand).callsFake(() => indexReply({'eng-aaa': record('eng-aaa')}, '"1"'))
    s3Mock.on(PutObjectCommand).resolves({})
    await newIndex().add(record('eng-bbb'))
    expect(writtenDocument()).toEqual({'eng-aaa': record('eng-aaa'), 'eng-bbb': record('eng-bbb')})
  })

  it('parse and serialize round-trip every shape', () => {
    const documents = [
      [record('eng-aaa')],
      {meta: {a: 1}, engagements: [record('eng-aaa', {x: [1]})]},
      {engagements: {'eng-aaa': record('eng-aaa')}},
      {'eng-aaa': record('eng-aaa')},
      {engagements: {'eng-aaa': {name: 'x'}}},
      {'eng-aaa': {name: 'x', other: null}},
    ]
    for (const document of documents) {
      const {records, shape} = parseIndex(JSON.stringify(document), sharedBucket)
      expect(records.map((r) => r.engagement_id)).toEqual(['eng-aaa'])
      expect(JSON.parse(serializeIndex(records, shape))).toEqual(document)
    }
  })

  it.each([
    ['not JSON', '{"engagements": [', /not JSON/],
    ['a bare string', '"hello"', /neither an object nor an array/],
    ['records without ids', '{"engagements": [{"name": "x"}]}', /no engagement_id/],
    ['an unknown object', '{"version": 2}', /no "engagements" list/],
    ['engagements of the wrong type', '{"engagements": 5}', /neither a list nor an object/],
  ])('a corrupt index (%s) is index_corrupt and nothing is written', async (_what, text, reason) => {
    s3Mock.on(GetObjectCommand).callsFake(() => indexReply(text, '"1"'))
    s3Mock.on(PutObjectCommand).resolves({})
    const failure = newIndex().add(record('eng-bbb'))
    await expect(failure).rejects.toBeInstanceOf(AuditforgeError)
    await expect(failure).rejects.toMatchObject({
      code: 'index_corrupt',
      exit: 1,
      message: expect.stringMatching(reason),
    })
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand)
  })

  it.each([
    ['without an ETag', undefined, 'HTTP 200 without an ETag'],
    ['with a weak ETag (W/"…", a web framework\'s)', 'W/"33-abc"', 'HTTP 200 with a weak ETag'],
  ])(
    'a 200 %s is not an S3 answer: not_s3, no advice to restore the index, nothing written',
    async (_what, etag, detail) => {
      // A wrong endpoint answering JSON: it would otherwise read as a corrupt index ("restore a good version").
      s3Mock
        .on(GetObjectCommand)
        .callsFake(() => ({Body: streamBody(JSON.stringify({status: 'ok', service: 'billing'})), ETag: etag}))
      s3Mock.on(PutObjectCommand).resolves({})
      const failure = newIndex().add(record('eng-bbb'))
      await expect(failure).rejects.toMatchObject({
        code: 'not_s3',
        exit: 1,
        message: `Reading the engagement index s3://${sharedBucket}/${indexKey}: the endpoint's answer is not an S3 response (${detail})`,
        suggestion: expect.stringMatching(/--endpoint-url/),
      })
      await expect(failure).rejects.not.toMatchObject({suggestion: expect.stringMatching(/[Rr]estore/)})
      expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand)
    },
  )

  it("the same body with a strong ETag is S3's own object: a corrupt index, as before", async () => {
    s3Mock.on(GetObjectCommand).callsFake(() => indexReply({status: 'ok', service: 'billing'}, '"1"'))
    await expect(newIndex().list()).rejects.toMatchObject({code: 'index_corrupt'})
  })

  it('on 412 re-reads, re-applies its change and retries: both engagements end up in the index', async () => {
    s3Mock
      .on(GetObjectCommand)
      .resolvesOnce(indexReply({engagements: [record('eng-aaa')]}, '"1"'))
      .resolvesOnce(indexReply({engagements: [record('eng-aaa'), record('eng-other')]}, '"2"'))
    s3Mock
      .on(PutObjectCommand)
      .rejectsOnce(s3Error('PreconditionFailed', 412, 'At least one of the pre-conditions you specified did not hold'))
      .resolves({})
    const sleeps: number[] = []
    await new EngagementIndex(testContext().s3, sharedBucket, {sleep: async (ms) => void sleeps.push(ms)}).add(
      record('eng-mine'),
    )

    expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 2)
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 2)
    expect(putCalls()[0].IfMatch).toBe('"1"')
    expect(putCalls()[1].IfMatch).toBe('"2"')
    const ids = (writtenDocument() as {engagements: EngagementRecord[]}).engagements.map((r) => r.engagement_id)
    expect(ids).toEqual(['eng-aaa', 'eng-other', 'eng-mine'])
    expect(sleeps).toHaveLength(1)
    expect(sleeps[0]).toBeGreaterThanOrEqual(0)
    expect(sleeps[0]).toBeLessThanOrEqual(2000)
  })

  it('a 409 ConditionalRequestConflict is retried like a 412', async () => {
    s3Mock.on(GetObjectCommand).callsFake(() => indexReply({engagements: []}, '"1"'))
    s3Mock.on(PutObjectCommand).rejectsOnce(s3Error('ConditionalRequestConflict', 409)).resolves({})
    await newIndex().add(record('eng-mine'))
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 2)
  })

  it('when two creators race on a missing index, the loser re-reads and writes with If-Match', async () => {
    s3Mock
      .on(GetObjectCommand)
      .rejectsOnce(missing())
      .resolvesOnce(indexReply({engagements: [record('eng-first')]}, '"1"'))
    s3Mock.on(PutObjectCommand).rejectsOnce(s3Error('PreconditionFailed', 412)).resolves({})
    await newIndex().add(record('eng-second'))
    expect(putCalls()[0].IfNoneMatch).toBe('*')
    expect(putCalls()[1]).toMatchObject({IfMatch: '"1"'})
    expect(putCalls()[1].IfNoneMatch).toBeUndefined()
    expect((writtenDocument() as {engagements: EngagementRecord[]}).engagements.map((r) => r.engagement_id)).toEqual([
      'eng-first',
      'eng-second',
    ])
  })

  it('a 500 whose write in fact landed: the re-read shows the record, so it is not written again', async () => {
    const mine = record('eng-mine')
    s3Mock
      .on(GetObjectCommand)
      .resolvesOnce(indexReply({engagements: [record('eng-aaa')]}, '"1"'))
      .resolvesOnce(indexReply({engagements: [record('eng-aaa'), mine]}, '"2"'))
    s3Mock.on(PutObjectCommand).rejects(s3Error('InternalError', 500))
    await newIndex().add(mine)
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 1)
    expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 2)
  })

  it('a 500 then a 412 where the re-read shows our record already there: success without writing again', async () => {
    const mine = record('eng-mine')
    s3Mock
      .on(GetObjectCommand)
      .resolvesOnce(indexReply({engagements: [record('eng-aaa')]}, '"1"'))
      .resolvesOnce(indexReply({engagements: [record('eng-aaa')]}, '"1"'))
      .resolvesOnce(indexReply({engagements: [record('eng-aaa'), mine]}, '"2"'))
    s3Mock
      .on(PutObjectCommand)
      .rejectsOnce(s3Error('InternalError', 500))
      .rejectsOnce(s3Error('PreconditionFailed', 412))
      .resolves({})
    await newIndex().add(mine)
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 2)
    expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 3)
  })

  it('a dropped connection (ECONNRESET) on the write is an uncertain outcome and is re-checked', async () => {
    const mine = record('eng-mine')
    s3Mock
      .on(GetObjectCommand)
      .resolvesOnce(indexReply({engagements: []}, '"1"'))
      .resolvesOnce(indexReply({engagements: [mine]}, '"2"'))
    s3Mock.on(PutObjectCommand).rejects(systemError('ECONNRESET', 'read ECONNRESET'))
    await newIndex().add(mine)
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 1)
    expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 2)
  })

  it('gives up with exit 6 after maxAttempts when the index keeps changing', async () => {
    let version = 0
    s3Mock.on(GetObjectCommand).callsFake(() => indexReply({engagements: [record('eng-aaa')]}, `"${++version}"`))
    s3Mock.on(PutObjectCommand).rejects(s3Error('PreconditionFailed', 412))
    let slept = 0
    const index = new EngagementIndex(testContext().s3, sharedBucket, {maxAttempts: 4, sleep: async () => void slept++})
    await expect(index.add(record('eng-mine'))).rejects.toMatchObject({
      code: 'conflict',
      exit: 6,
      message: expect.stringContaining(indexKey),
    })
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 4)
    expect(s3Mock).toHaveReceivedCommandTimes(GetObjectCommand, 4)
    expect(slept).toBe(4)
  })

  it('does not retry other write failures: AccessDenied is exit 1 naming the index', async () => {
    s3Mock.on(GetObjectCommand).callsFake(() => indexReply({engagements: []}, '"1"'))
    s3Mock.on(PutObjectCommand).rejects(s3Error('AccessDenied', 403))
    await expect(newIndex().add(record('eng-mine'))).rejects.toMatchObject({
      code: 'access_denied',
      exit: 1,
      message: `Writing the engagement index s3://${sharedBucket}/${indexKey}: access denied`,
    })
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 1)
  })

  it('a missing shared bucket is exit 3, not an empty index', async () => {
    s3Mock.on(GetObjectCommand).rejects(new NoSuchBucket({$metadata: {httpStatusCode: 404}, message: 'no bucket'}))
    await expect(newIndex().list()).rejects.toMatchObject({code: 'no_such_bucket', exit: 3})
  })

  it('adding a record already there with the same content is a no-op; a different one with the same id is a conflict', async () => {
    s3Mock.on(GetObjectCommand).callsFake(() => indexReply({engagements: [record('eng-aaa')]}, '"1"'))
    s3Mock.on(PutObjectCommand).resolves({})
    await newIndex().add(record('eng-aaa'))
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand)
    await expect(newIndex().add(record('eng-aaa', {name: 'Different'}))).rejects.toMatchObject({
      code: 'conflict',
      exit: 6,
    })
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand)
  })

  it('get: exit 3 for an unknown engagement, exit 2 for a bad id before any call', async () => {
    s3Mock.on(GetObjectCommand).callsFake(() => indexReply({engagements: [record('eng-aaa')]}, '"1"'))
    await expect(newIndex().get('eng-zzz')).rejects.toMatchObject({exit: 3, code: 'not_found'})
    s3Mock.reset()
    await expect(newIndex().get('../x')).rejects.toMatchObject({exit: 2})
    expect(s3Mock).not.toHaveReceivedAnyCommand()
  })

  it('remove drops only that record; removing a missing one writes nothing', async () => {
    s3Mock
      .on(GetObjectCommand)
      .callsFake(() => indexReply({engagements: [record('eng-aaa'), record('eng-bbb', {x: 1})]}, '"1"'))
    s3Mock.on(PutObjectCommand).resolves({})
    await newIndex().remove('eng-aaa')
    expect(writtenDocument()).toEqual({engagements: [record('eng-bbb', {x: 1})]})
    s3Mock.resetHistory()
    await newIndex().remove('eng-zzz')
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand)
  })

  it('setSourceBucket changes only source_bucket; unchanged is a no-op; an unknown id is exit 3', async () => {
    s3Mock.on(GetObjectCommand).callsFake(() => indexReply({engagements: [record('eng-aaa', {keep: 'me'})]}, '"1"'))
    s3Mock.on(PutObjectCommand).resolves({})
    const updated = await newIndex().setSourceBucket('eng-aaa', 'metis-af-aaa-123456789012')
    expect(updated).toEqual(record('eng-aaa', {keep: 'me', source_bucket: 'metis-af-aaa-123456789012'}))
    expect(writtenDocument()).toEqual({engagements: [updated]})
    s3Mock.resetHistory()
    await newIndex().setSourceBucket('eng-aaa', '')
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand)
    await expect(newIndex().setSourceBucket('eng-zzz', '')).rejects.toMatchObject({exit: 3})
  })

  it('setSourceBucket with an expected value refuses (exit 6) when the record changed meanwhile', async () => {
    s3Mock
      .on(GetObjectCommand)
      .callsFake(() =>
        indexReply({engagements: [record('eng-aaa', {source_bucket: 'metis-af-other-123456789012'})]}, '"1"'),
      )
    s3Mock.on(PutObjectCommand).resolves({})
    await expect(newIndex().setSourceBucket('eng-aaa', 'metis-af-aaa-123456789012', '')).rejects.toMatchObject({
      exit: 6,
      code: 'conflict',
    })
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand)
  })
})
