/**
 * Account-regional bucket names on the wire: the pinned SDK must send CreateBucket's
 * BucketNamespace as the `x-amz-bucket-namespace` header (moto ignores a missing header), and
 * provisioning must ask for it exactly for names of that form. Requests are captured by a
 * request handler of our own, so nothing here is mocked at the SDK's level.
 */
import {Readable} from 'node:stream'

import {CreateBucketCommand, S3Client} from '@aws-sdk/client-s3'
import {HttpResponse} from '@smithy/core/transport'
import {describe, expect, it} from 'vitest'

import type {AwsContext} from '../../src/lib/aws.js'
import {bucketNameFor, bucketNamesFor, provisionEngagementBucket} from '../../src/lib/buckets.js'
import {resolveSettings} from '../../src/lib/config.js'
import {accountId, callerArn, sharedBucket} from './fixtures.js'

interface Captured {
  method: string
  path: string
  headers: Record<string, string>
}

/** An S3 client whose requests are recorded and answered by `answer` (a status per request). */
function capturingClient(answer: (request: Captured) => {status: number; body?: string}): {
  s3: S3Client
  requests: Captured[]
} {
  const requests: Captured[] = []
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  const s3 = new S3Client({
    region: 'eu-west-1',
    endpoint: 'https://s3.eu-west-1.example.test',
    forcePathStyle: true,
    credentials: {accessKeyId: 'x', secretAccessKey: 'x'},
    requestHandler: {
      async handle(request: {
        method: string
        path: string
        query?: Record<string, unknown>
        headers: Record<string, string>
      }) {
        const query = Object.keys(request.query ?? {}).join('&')
        const captured = {
          method: request.method,
          path: `${request.path}${query ? `?${query}` : ''}`,
          headers: request.headers,
        }
        requests.push(captured)
        const {status, body = ''} = answer(captured)
        return {response: new HttpResponse({statusCode: status, headers: {}, body: Readable.from([Buffer.from(body)])})}
      },
    } as never,
  })
  return {s3, requests}
}

function contextWith(s3: S3Client, env: Record<string, string>): AwsContext {
  return {
    s3,
    settings: resolveSettings({'shared-bucket': sharedBucket, region: 'eu-west-1'}, env),
    accountId: async () => accountId,
    callerArn: async () => callerArn,
  }
}

describe('the x-amz-bucket-namespace header', () => {
  it('is sent by the pinned SDK for CreateBucket with BucketNamespace, and not without it', async () => {
    const {s3, requests} = capturingClient(() => ({status: 200}))
    await s3.send(
      new CreateBucketCommand({Bucket: `metis-af-abc-${accountId}-eu-west-1-an`, BucketNamespace: 'account-regional'}),
    )
    await s3.send(new CreateBucketCommand({Bucket: `metis-af-abc-${accountId}`}))
    expect(requests[0].headers['x-amz-bucket-namespace']).toBe('account-regional')
    expect(requests[1].headers['x-amz-bucket-namespace']).toBeUndefined()
  })

  it('is sent when provisioning in the account-regional namespace, and CreateBucket carries no expected owner', async () => {
    const name = `metis-af-6715f196fa40-${accountId}-eu-west-1-an`
    let created = false
    const {s3, requests} = capturingClient((request) => {
      // The tombstones and the tags do not exist; the bucket exists once created.
      if (request.method === 'HEAD') return {status: created ? 200 : 404}
      if (request.method === 'PUT' && request.path === `/${name}/`) {
        created = true
        return {status: 200}
      }
      if (request.method === 'GET' && request.path.includes('decommissioned-buckets.json'))
        return {status: 404, body: '<Error><Code>NoSuchKey</Code></Error>'}
      if (request.method === 'GET' && request.path.endsWith('?tagging'))
        return {status: 404, body: '<Error><Code>NoSuchTagSet</Code></Error>'}
      if (request.method === 'GET' && request.path.endsWith('?policy'))
        return {status: 404, body: '<Error><Code>NoSuchBucketPolicy</Code></Error>'}
      if (request.method === 'GET' && request.path.endsWith('?lifecycle'))
        return {status: 404, body: '<Error><Code>NoSuchLifecycleConfiguration</Code></Error>'}
      if (request.method === 'GET' && request.path.endsWith('?encryption'))
        return {status: 404, body: '<Error><Code>ServerSideEncryptionConfigurationNotFoundError</Code></Error>'}
      return {status: 200}
    })
    const result = await provisionEngagementBucket(
      contextWith(s3, {AUDITFORGE_BUCKET_NAMESPACE: 'account-regional'}),
      'eng-6715f196fa40',
    )
    expect(result.bucket).toBe(name)
    const create = requests.find((request) => request.method === 'PUT' && request.path === `/${name}/`)!
    expect(create.headers['x-amz-bucket-namespace']).toBe('account-regional')
    expect(create.headers['x-amz-expected-bucket-owner']).toBeUndefined()
    // Ownership is proved with HeadBucket right after the create, with the expected owner.
    const after = requests[requests.indexOf(create) + 1]
    expect(after).toMatchObject({method: 'HEAD', path: `/${name}/`})
    expect(after.headers['x-amz-expected-bucket-owner']).toBe(accountId)
    for (const request of requests.filter((request) => request.path.startsWith(`/${name}`) && request !== create)) {
      expect(request.headers['x-amz-expected-bucket-owner'], `${request.method} ${request.path}`).toBe(accountId)
    }
  })
})

describe('names in both namespaces', () => {
  it('the configured namespace names new buckets; both names are looked for, the configured one first', async () => {
    const {s3} = capturingClient(() => ({status: 200}))
    const global = contextWith(s3, {})
    const regional = contextWith(s3, {AUDITFORGE_BUCKET_NAMESPACE: 'account-regional'})
    expect(await bucketNameFor(global, 'eng-abc')).toBe(`metis-af-abc-${accountId}`)
    expect(await bucketNameFor(regional, 'eng-abc')).toBe(`metis-af-abc-${accountId}-eu-west-1-an`)
    expect(await bucketNamesFor(global, 'eng-abc')).toEqual([
      `metis-af-abc-${accountId}`,
      `metis-af-abc-${accountId}-eu-west-1-an`,
    ])
    expect(await bucketNamesFor(regional, 'eng-abc')).toEqual([
      `metis-af-abc-${accountId}-eu-west-1-an`,
      `metis-af-abc-${accountId}`,
    ])
  })
})
