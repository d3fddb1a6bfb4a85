/**
 * Throttling must not fail a migration: a real S3Client, configured the way the CLI configures
 * it (src/lib/aws.ts createClientConfig: retries, standard mode), talks to moto through a request
 * handler that answers the first few CopyObject requests with 503 SlowDown, so the SDK's own
 * retry (with its real backoff) has to carry the run through.
 */
import {randomBytes} from 'node:crypto'
import {Readable} from 'node:stream'

import {ListObjectVersionsCommand, PutObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {HttpResponse} from '@smithy/core/transport'
import {NodeHttpHandler} from '@smithy/node-http-handler'
import {describe, expect, inject, it} from 'vitest'

import {type AwsContext, createClientConfig} from '../../src/lib/aws.js'
import {resolveSettings} from '../../src/lib/config.js'
import {executeMigration, planMigration} from '../../src/lib/migrate/index.js'
import {createSharedBucket, getText, motoAccountId, putText, testS3} from '../helpers/s3.js'

interface HandledRequest {
  method: string
  headers: Record<string, string>
}

/** Delegates to a real HTTP handler, except for the first `throttle` CopyObject requests. */
class ThrottlingHandler {
  throttled = 0
  copyRequests = 0
  private readonly inner = new NodeHttpHandler()

  constructor(private readonly throttle: number) {}

  async handle(request: HandledRequest, options?: unknown) {
    const isCopy =
      request.method === 'PUT' &&
      Object.keys(request.headers).some((name) => name.toLowerCase() === 'x-amz-copy-source')
    if (isCopy) {
      this.copyRequests++
      if (this.throttled < this.throttle) {
        this.throttled++
        const body = Readable.from([
          Buffer.from(
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>t</RequestId></Error>',
          ),
        ])
        return {response: new HttpResponse({statusCode: 503, headers: {'content-type': 'application/xml'}, body})}
      }
    }
    return this.inner.handle(request as never, options as never)
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {}
  }

  destroy(): void {
    this.inner.destroy()
  }
}

describe('migrate under throttling', () => {
  it('retries SlowDown on CopyObject and completes the migration', async () => {
    const s3 = testS3()
    const bucket = await createSharedBucket(s3, 'mig-slow')
    const id = `eng-${randomBytes(6).toString('hex')}`
    const keys = Array.from({length: 8}, (_, i) => `auditforge/engagements/${id}/source/file-${i}.txt`)
    await putText(
      s3,
      bucket,
      'auditforge/engagements.json',
      JSON.stringify({
        engagements: [
          {
            engagement_id: id,
            name: 'Slow',
            client_id: '',
            created_at: '2026-01-01T00:00:00Z',
            source_bucket: '',
            findings_key: '',
            audit_log_key: '',
          },
        ],
      }),
    )
    await Promise.all(
      keys.map((key) => s3.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: `body of ${key}`}))),
    )

    const settings = resolveSettings({'shared-bucket': bucket, 'endpoint-url': inject('motoEndpoint')}, {})
    const handler = new ThrottlingHandler(4)
    const client = new S3Client({
      ...createClientConfig(settings),
      forcePathStyle: true,
      credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
      requestHandler: handler as never,
    })
    const context: AwsContext = {
      s3: client,
      settings,
      accountId: async () => motoAccountId,
      callerArn: async () => 'arn:aws:iam::123456789012:user/t',
    }

    try {
      const plan = await planMigration(context, bucket)
      const outcomes = await executeMigration(context, plan, {concurrency: 2})

      expect(outcomes).toEqual([expect.objectContaining({engagement_id: id, status: 'migrated', copied: keys.length})])
      expect(handler.throttled).toBe(4)
      // Each throttled request was retried by the SDK, once per SlowDown: no copy was skipped or doubled.
      expect(handler.copyRequests).toBe(keys.length + 4)
    } finally {
      client.destroy()
    }
    const target = `metis-af-${id.slice('eng-'.length)}-${motoAccountId}`
    const listed = await s3.send(new ListObjectVersionsCommand({Bucket: target}))
    // One version of each key (the evidence, under its reserved prefix, is not engagement data).
    const data = (listed.Versions ?? [])
      .map((version) => version.Key!)
      .filter((key) => !key.startsWith('auditforge/migrations/'))
    expect(data.sort()).toEqual([...keys].sort())
    const index = JSON.parse(await getText(s3, bucket, 'auditforge/engagements.json')) as {
      engagements: {source_bucket: string}[]
    }
    expect(index.engagements[0].source_bucket).toBe(target)
  })
})
