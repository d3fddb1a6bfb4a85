/**
 * Endpoints per service, as the AWS CLI resolves them: an S3-only endpoint (a VPC endpoint, a
 * gateway) never receives STS calls, and STS never receives S3 calls. Two fault proxies in
 * front of the same moto tell, by their request logs, which service went where.
 */
import {afterAll, beforeAll, beforeEach, describe, expect, inject, it} from 'vitest'

import {type FaultProxy, type LoggedRequest, startFaultProxy} from '../fixtures/fault-proxy.js'
import {runCli, runJson} from '../helpers/cli.js'
import {expectedBucketName, putIndex, randomEngagementId, seedS3} from '../helpers/commands.js'
import {createSharedBucket, motoAccountId} from '../helpers/s3.js'

let s3Proxy: FaultProxy
let stsProxy: FaultProxy
let bucket: string

beforeAll(async () => {
  s3Proxy = await startFaultProxy(inject('motoEndpoint'))
  stsProxy = await startFaultProxy(inject('motoEndpoint'))
  bucket = await createSharedBucket(seedS3(), 'endpoints')
  await putIndex(seedS3(), bucket, {engagements: []})
})
afterAll(async () => {
  await s3Proxy.close()
  await stsProxy.close()
})
beforeEach(() => {
  s3Proxy.reset()
  stsProxy.reset()
})

/** STS (query protocol) posts to `/`; every S3 call auditforge makes names a bucket in its path. */
const isSts = (entry: LoggedRequest) => entry.method === 'POST' && entry.path === '/'

/** A port nothing listens on. */
const deadEndpoint = 'http://127.0.0.1:9'

describe('endpoints per service', () => {
  it('AWS_ENDPOINT_URL_S3 alone, with a dead STS endpoint: an S3-only command works with --account-id', async () => {
    const id = randomEngagementId()
    const result = await runCli(
      ['bucket', 'provision', id, '--shared-bucket', bucket, '--account-id', motoAccountId, '--force'],
      {
        env: {
          AWS_ENDPOINT_URL: undefined,
          AWS_ENDPOINT_URL_S3: s3Proxy.endpoint,
          AWS_ENDPOINT_URL_STS: deadEndpoint,
          AWS_MAX_ATTEMPTS: '1',
        },
      },
    )
    expect(result.stderr).not.toMatch(/Error/)
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(expectedBucketName(id))
    expect(s3Proxy.log.length).toBeGreaterThan(0)
    expect(s3Proxy.log.filter(isSts)).toEqual([])
  })

  it('engagement create sends GetCallerIdentity to AWS_ENDPOINT_URL_STS and S3 calls to AWS_ENDPOINT_URL_S3', async () => {
    const result = await runJson(
      ['engagement', 'create', '--name', 'Routing', '--shared-bucket', bucket, '--no-isolated'],
      {
        env: {
          AWS_ENDPOINT_URL: deadEndpoint,
          AWS_ENDPOINT_URL_S3: s3Proxy.endpoint,
          AWS_ENDPOINT_URL_STS: stsProxy.endpoint,
          AWS_MAX_ATTEMPTS: '1',
        },
      },
    )
    expect(result.code).toBe(0)
    expect(stsProxy.log.length).toBeGreaterThan(0)
    expect(stsProxy.log.every(isSts)).toBe(true)
    expect(s3Proxy.log.filter(isSts)).toEqual([])
    expect(
      s3Proxy.log.some((entry) => entry.method === 'PUT' && entry.path === `/${bucket}/auditforge/engagements.json`),
    ).toBe(true)
  })

  it('--endpoint-url changes S3 only: STS keeps AWS_ENDPOINT_URL', async () => {
    const result = await runJson(
      [
        'engagement',
        'create',
        '--name',
        'Flag',
        '--shared-bucket',
        bucket,
        '--no-isolated',
        '--endpoint-url',
        s3Proxy.endpoint,
      ],
      {
        env: {AWS_ENDPOINT_URL: stsProxy.endpoint, AWS_MAX_ATTEMPTS: '1'},
      },
    )
    expect(result.code).toBe(0)
    expect(stsProxy.log.length).toBeGreaterThan(0)
    expect(stsProxy.log.every(isSts)).toBe(true)
    expect(s3Proxy.log.filter(isSts)).toEqual([])
    expect(s3Proxy.log.length).toBeGreaterThan(0)
  })

  it('a dead STS endpoint is named in the failure, not the S3 one', async () => {
    const result = await runCli(
      ['engagement', 'create', '--name', 'NoSts', '--shared-bucket', bucket, '--no-isolated'],
      {
        env: {
          AWS_ENDPOINT_URL: undefined,
          AWS_ENDPOINT_URL_S3: s3Proxy.endpoint,
          AWS_ENDPOINT_URL_STS: deadEndpoint,
          AWS_MAX_ATTEMPTS: '1',
        },
      },
    )
    expect(result.code).toBe(1)
    expect(result.stderr.split('\n')[0]).toMatch(
      /^Error: Looking up the caller identity \(sts:GetCallerIdentity\): could not reach http:\/\/127\.0\.0\.1:9 \(/,
    )
  })
})
