/** The fault-injection proxy itself: each mode does what it says, and only to matching requests. */
import {GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {NodeHttpHandler} from '@smithy/node-http-handler'
import {afterAll, beforeAll, beforeEach, describe, expect, inject, it} from 'vitest'

import {type FaultProxy, startFaultProxy} from '../fixtures/fault-proxy.js'
import {createSharedBucket, putText, testS3} from '../helpers/s3.js'

let proxy: FaultProxy
let bucket: string
const key = 'auditforge/engagements.json'

/** A client with no retries and a short socket timeout, so each fault shows as it is. */
function throughProxy(): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint: proxy.endpoint,
    forcePathStyle: true,
    credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({socketTimeout: 700}),
  })
}

beforeAll(async () => {
  proxy = await startFaultProxy(inject('motoEndpoint'))
  const s3 = testS3()
  bucket = await createSharedBucket(s3, 'proxy')
  await putText(s3, bucket, key, '{"engagements": []}')
})
afterAll(() => proxy.close())
beforeEach(() => proxy.reset())

const read = (client: S3Client) =>
  client.send(new GetObjectCommand({Bucket: bucket, Key: key})).then((reply) => reply.Body!.transformToString())

describe('fault proxy', () => {
  it('forwards to moto and logs method and path', async () => {
    await expect(read(throughProxy())).resolves.toBe('{"engagements": []}')
    expect(proxy.log.map(({method, path, fault}) => ({method, path, fault}))).toEqual([
      {method: 'GET', path: `/${bucket}/${key}`, fault: undefined},
    ])
  })

  it('answers SlowDown and InternalError on every N-th matching request only', async () => {
    const client = throughProxy()
    proxy.set({mode: 'slowdown', every: 2, match: {method: 'GET', path: new RegExp(`${key}$`)}})
    await expect(read(client)).resolves.toBeTruthy()
    await expect(read(client)).rejects.toMatchObject({name: 'SlowDown', $metadata: {httpStatusCode: 503}})
    await client.send(new ListObjectsV2Command({Bucket: bucket}))
    await expect(read(client)).resolves.toBeTruthy()
    proxy.set({mode: 'internal-error', match: {query: 'list-type'}})
    await expect(client.send(new ListObjectsV2Command({Bucket: bucket}))).rejects.toMatchObject({
      name: 'InternalError',
      $metadata: {httpStatusCode: 500},
    })
    expect(proxy.log.map((entry) => entry.fault)).toEqual([
      undefined,
      'slowdown',
      undefined,
      undefined,
      'internal-error',
    ])
  })

  it('a seeded rate picks the same requests every run', async () => {
    const pick = async () => {
      proxy.reset()
      proxy.set({mode: 'slowdown', rate: 0.5, seed: 7})
      const client = throughProxy()
      for (let i = 0; i < 8; i++) await read(client).catch(() => {})
      return proxy.log.map((entry) => entry.fault !== undefined)
    }
    const first = await pick()
    expect(await pick()).toEqual(first)
    expect(first).toContain(true)
    expect(first).toContain(false)
  })

  it('resets the connection in the middle of the body', async () => {
    proxy.set({mode: 'reset', resetAfterBytes: 5})
    await expect(read(throughProxy())).rejects.toThrow(/aborted|ECONNRESET|socket hang up|premature/i)
  })

  it('loses the answer of a request that landed (reset in the headers)', async () => {
    const client = throughProxy()
    proxy.set({mode: 'reset', resetIn: 'head', match: {method: 'PUT'}})
    const written = client.send(new PutObjectCommand({Bucket: bucket, Key: 'landed.txt', Body: 'landed'}))
    await expect(written).rejects.toThrow(/aborted|ECONNRESET|socket hang up|premature|parse/i)
    proxy.reset()
    await expect(
      client
        .send(new GetObjectCommand({Bucket: bucket, Key: 'landed.txt'}))
        .then((reply) => reply.Body!.transformToString()),
    ).resolves.toBe('landed')
  })

  it('holds a connection without answering (half-open)', async () => {
    proxy.set({mode: 'blackhole'})
    const started = Date.now()
    await expect(read(throughProxy())).rejects.toMatchObject({name: 'TimeoutError'})
    expect(Date.now() - started).toBeGreaterThanOrEqual(600)
  })

  it('drips the answer one byte at a time', async () => {
    proxy.set({mode: 'drip', drip: {bytes: 1, everyMs: 2}})
    const started = Date.now()
    await expect(read(throughProxy())).resolves.toBe('{"engagements": []}')
    // Status line, headers and body: a few hundred bytes at 2 ms each.
    expect(Date.now() - started).toBeGreaterThan(300)
  })

  it('answers with a page that is not S3', async () => {
    proxy.set({mode: 'answer', answer: {status: 200, contentType: 'text/html', body: '<html>portal</html>'}})
    await expect(read(throughProxy())).resolves.toBe('<html>portal</html>')
  })
})
