/**
 * Helpers for the command integration tests (test/commands): reading S3 state back through the
 * SDK (never through the CLI), seeding object versions fast, and the `aws` CLI v1 as a second,
 * independent witness.
 */
import {execFile} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {promisify} from 'node:util'

import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectVersionsCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import {GetCallerIdentityCommand, STSClient} from '@aws-sdk/client-sts'
import {inject} from 'vitest'

import type {EngagementRecord} from '../../src/lib/engagement-index.js'
import {motoAccountId} from './s3.js'

/**
 * An SDK client for seeding many objects quickly: like testS3(), but without the optional
 * request checksums, which moto would otherwise compute and check on every PutObject.
 */
export function seedS3(): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint: inject('motoEndpoint'),
    forcePathStyle: true,
    credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
    requestChecksumCalculation: 'WHEN_REQUIRED',
  })
}

export const indexKey = 'auditforge/engagements.json'

/** A fresh engagement id (so per-engagement bucket names never collide between tests). */
export function randomEngagementId(): string {
  return `eng-${randomBytes(6).toString('hex')}`
}

/** The per-engagement bucket name, built here independently of src/lib/layout.ts. */
export function expectedBucketName(engagementId: string, prefix = 'metis-af-'): string {
  return `${prefix}${engagementId.slice('eng-'.length)}-${motoAccountId}`
}

export function auditShardKey(engagementId: string, shard = 0): string {
  return `auditforge/engagements/${engagementId}/audit_log/shard-${String(shard).padStart(5, '0')}.jsonl`
}

/** A record as the platform would store it. */
export function seedRecord(engagementId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    engagement_id: engagementId,
    name: `Seeded ${engagementId}`,
    client_id: 'acme',
    created_at: '2025-01-02T03:04:05Z',
    source_bucket: '',
    findings_key: `auditforge/engagements/${engagementId}/findings.json`,
    audit_log_key: `auditforge/engagements/${engagementId}/audit_log/`,
    ...extra,
  }
}

export async function putIndex(s3: S3Client, bucket: string, document: unknown): Promise<void> {
  await putRaw(s3, bucket, indexKey, `${JSON.stringify(document, null, 2)}\n`, 'application/json')
}

export async function putRaw(
  s3: S3Client,
  bucket: string,
  key: string,
  body: string,
  contentType = 'text/plain',
): Promise<{VersionId?: string; ETag?: string}> {
  const reply = await s3.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: body, ContentType: contentType}))
  return {VersionId: reply.VersionId, ETag: reply.ETag}
}

/** The index exactly as stored: raw text, parsed document, ETag and VersionId. */
export async function readIndex(
  s3: S3Client,
  bucket: string,
): Promise<{text: string; json: unknown; etag?: string; versionId?: string}> {
  const reply = await s3.send(new GetObjectCommand({Bucket: bucket, Key: indexKey}))
  const text = await reply.Body!.transformToString('utf8')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return {text, json, etag: reply.ETag, versionId: reply.VersionId}
}

/** The records of an index document, whatever its shape. */
export function recordsOf(document: unknown): EngagementRecord[] {
  if (Array.isArray(document)) return document
  const engagements = (document as {engagements?: unknown} | null | undefined)?.engagements
  if (Array.isArray(engagements)) return engagements
  throw new Error(`unexpected index shape: ${JSON.stringify(document)}`)
}

export interface StoredVersion {
  key: string
  versionId: string
  deleteMarker: boolean
}

/**
 * A per-engagement bucket made directly with the SDK (versioned, tagged as auditforge's own,
 * bound to `index` when given; without it, as buckets provisioned before binding were), for
 * tests that need one to exist without spending a CLI run on provisioning it.
 */
export async function makeManagedBucket(s3: S3Client, engagementId: string, index?: string): Promise<string> {
  const bucket = expectedBucketName(engagementId)
  await s3.send(new CreateBucketCommand({Bucket: bucket}))
  await s3.send(new PutBucketVersioningCommand({Bucket: bucket, VersioningConfiguration: {Status: 'Enabled'}}))
  await s3.send(
    new PutBucketTaggingCommand({
      Bucket: bucket,
      Tagging: {
        TagSet: [
          {Key: 'auditforge:engagement-id', Value: engagementId},
          {Key: 'auditforge:managed-by', Value: 'auditforge'},
          ...(index === undefined ? [] : [{Key: 'auditforge:index', Value: index}]),
        ],
      },
    }),
  )
  return bucket
}

/** Every object version and delete marker in a bucket, paged through with the SDK. */
export async function listAllVersions(s3: S3Client, bucket: string, prefix?: string): Promise<StoredVersion[]> {
  const all: StoredVersion[] = []
  let KeyMarker: string | undefined
  let VersionIdMarker: string | undefined
  for (;;) {
    const page = await s3.send(
      new ListObjectVersionsCommand({Bucket: bucket, Prefix: prefix, KeyMarker, VersionIdMarker}),
    )
    for (const v of page.Versions ?? []) all.push({key: v.Key!, versionId: v.VersionId!, deleteMarker: false})
    for (const m of page.DeleteMarkers ?? []) all.push({key: m.Key!, versionId: m.VersionId!, deleteMarker: true})
    if (!page.IsTruncated) return all
    KeyMarker = page.NextKeyMarker
    VersionIdMarker = page.NextVersionIdMarker
  }
}

/** Versions (and markers) per key. */
export function countByKey(versions: StoredVersion[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const v of versions) counts[v.key] = (counts[v.key] ?? 0) + 1
  return counts
}

export async function bucketExists(s3: S3Client, bucket: string): Promise<boolean> {
  try {
    await s3.send(new HeadBucketCommand({Bucket: bucket}))
    return true
  } catch (error) {
    if ((error as {$metadata?: {httpStatusCode?: number}}).$metadata?.httpStatusCode === 404) return false
    throw error
  }
}

export async function objectExists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await s3.send(new HeadObjectCommand({Bucket: bucket, Key: key}))
    return true
  } catch (error) {
    if ((error as {$metadata?: {httpStatusCode?: number}}).$metadata?.httpStatusCode === 404) return false
    throw error
  }
}

export async function listBucketNames(s3: S3Client): Promise<string[]> {
  const reply = await s3.send(new ListBucketsCommand({}))
  return (reply.Buckets ?? []).map((bucket) => bucket.Name!)
}

/** The caller's ARN as moto's STS reports it, asked directly rather than through the CLI. */
export async function callerArn(): Promise<string> {
  const sts = new STSClient({
    region: 'us-east-1',
    endpoint: inject('motoEndpoint'),
    credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
  })
  try {
    return (await sts.send(new GetCallerIdentityCommand({}))).Arn!
  } finally {
    sts.destroy()
  }
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
export async function mapLimit<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]
      await fn(item)
    }
  }
  await Promise.all(Array.from({length: Math.min(concurrency, items.length)}, worker))
}

const execFileAsync = promisify(execFile)

/** The reply of any aws CLI command: tests read it as the AWS API documents it and assert on what they read. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any service's reply, by design
type AwsReply = any

/**
 * `aws --endpoint-url <moto> s3api ...` (AWS CLI v1); the parsed JSON reply, or the failure.
 * `endpoint` and `caBundle` point it at another server (the https moto of the TLS tests).
 */
export async function awsS3api(
  args: string[],
  options: {endpoint?: string; caBundle?: string} = {},
): Promise<{code: number; json?: AwsReply; stderr: string}> {
  return awsCli(['s3api', ...args], options)
}

/** `aws --endpoint-url <moto> <service> ...` (AWS CLI v1) for any service moto serves; as {@link awsS3api}. */
export async function awsCli(
  args: string[],
  options: {endpoint?: string; caBundle?: string} = {},
): Promise<{code: number; json?: AwsReply; stderr: string}> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PAGER: '',
  }
  try {
    const server = [
      '--endpoint-url',
      options.endpoint ?? inject('motoEndpoint'),
      ...(options.caBundle ? ['--ca-bundle', options.caBundle] : []),
    ]
    const {stdout, stderr} = await execFileAsync('aws', [...server, '--output', 'json', ...args], {env})
    return {code: 0, json: stdout.trim() ? JSON.parse(stdout) : undefined, stderr}
  } catch (error) {
    const failure = error as {code?: number | string; stderr?: string}
    if (typeof failure.code !== 'number') throw error
    return {code: failure.code, stderr: failure.stderr ?? ''}
  }
}
