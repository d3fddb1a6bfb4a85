/**
 * Where an engagement's data lives, and the stores that read and write it. Every store method
 * takes an optional bucket override (the engagement's own bucket) and falls back to the shared
 * platform bucket, as the platform's FindingsStore does (seed 000).
 */
import {GetObjectCommand, PutObjectCommand, type S3Client} from '@aws-sdk/client-s3'

import type {AwsContext} from './aws.js'
import type {EngagementRecord} from './engagement-index.js'
import {AuditforgeError, ExitCode, attempt, awsErrorCode, describeAwsError, isPreconditionFailure} from './errors.js'
import {engagementKeys, shardNumberOf} from './layout.js'
import {listObjects} from './object-versions.js'

/** The bucket that holds an engagement's data: its own when set, else the shared bucket. */
export function bucketFor(engagement: Pick<EngagementRecord, 'source_bucket'>, sharedBucket: string): string {
  return engagement.source_bucket ? engagement.source_bucket : sharedBucket
}

/** Resolves a bucket override and the ExpectedBucketOwner to send with calls to it. */
class BucketResolver {
  constructor(
    protected readonly context: AwsContext,
    protected readonly sharedBucket: string,
  ) {}

  protected async target(bucket?: string): Promise<{Bucket: string; ExpectedBucketOwner?: string}> {
    if (!bucket || bucket === this.sharedBucket) return {Bucket: this.sharedBucket}
    return {Bucket: bucket, ExpectedBucketOwner: await this.context.accountId()}
  }

  protected async getText(bucket: string | undefined, key: string, action: string): Promise<string | undefined> {
    const target = await this.target(bucket)
    try {
      const reply = await this.context.s3.send(new GetObjectCommand({...target, Key: key}))
      return await reply.Body!.transformToString('utf8')
    } catch (error) {
      if (awsErrorCode(error) === 'NoSuchKey') return undefined
      throw describeAwsError(error, {action, bucket: target.Bucket, key})
    }
  }

  protected async putBody(bucket: string | undefined, key: string, body: string | Uint8Array, contentType: string, action: string) {
    const target = await this.target(bucket)
    await attempt({action, bucket: target.Bucket, key}, () =>
      this.context.s3.send(new PutObjectCommand({...target, Key: key, Body: body, ContentType: contentType})),
    )
  }
}

/** findings.json of an engagement. */
export class FindingsStore extends BucketResolver {
  async get(engagementId: string, bucket?: string): Promise<unknown | undefined> {
    const text = await this.getText(bucket, engagementKeys.findings(engagementId), 'Reading findings')
    return text === undefined ? undefined : JSON.parse(text)
  }

  async put(engagementId: string, findings: unknown, bucket?: string): Promise<void> {
    const body = `${JSON.stringify(findings, null, 2)}\n`
    await this.putBody(bucket, engagementKeys.findings(engagementId), body, 'application/json', 'Writing findings')
  }
}

const deliverableTypes: Record<string, string> = {
  json: 'application/json',
  md: 'text/markdown; charset=utf-8',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  pdf: 'application/pdf',
}

/** Cached rendered deliverables: `<id>.<ext>` and `<id>-methodology.md`. */
export class DeliverableStore extends BucketResolver {
  async put(engagementId: string, extension: string, body: string | Uint8Array, bucket?: string): Promise<void> {
    const key = engagementKeys.deliverable(engagementId, extension)
    await this.putBody(bucket, key, body, deliverableTypes[extension] ?? 'application/octet-stream', 'Writing a deliverable')
  }

  async putMethodology(engagementId: string, markdown: string, bucket?: string): Promise<void> {
    await this.putBody(bucket, engagementKeys.methodology(engagementId), markdown, deliverableTypes.md, 'Writing the methodology')
  }

  async get(engagementId: string, extension: string, bucket?: string): Promise<string | undefined> {
    return this.getText(bucket, engagementKeys.deliverable(engagementId, extension), 'Reading a deliverable')
  }
}

/** One audit-log event as stored: one JSON object a line. */
export interface AuditEvent {
  event: string
  timestamp: string
  engagement_id: string
  actor: string
  [field: string]: unknown
}

export interface ShardInfo {
  key: string
  shard: number
  size: number
}

export interface AuditLogOptions {
  /** A shard is closed and the next one started once it would grow past this. */
  maxShardBytes?: number
  maxAttempts?: number
}

/**
 * The engagement's audit log: `audit_log/shard-NNNNN.jsonl`, one JSON event a line, read in
 * shard-number order. Appends are conditional writes, so two writers never drop an event.
 */
export class AuditLogStore extends BucketResolver {
  private readonly maxShardBytes: number
  private readonly maxAttempts: number

  constructor(context: AwsContext, sharedBucket: string, options: AuditLogOptions = {}) {
    super(context, sharedBucket)
    this.maxShardBytes = options.maxShardBytes ?? 8 * 1024 * 1024
    this.maxAttempts = options.maxAttempts ?? 10
  }

  /** The shards in shard-number order (never in listing order: `shard-100000` sorts early). */
  async listShards(engagementId: string, bucket?: string): Promise<ShardInfo[]> {
    const target = await this.target(bucket)
    const shards: ShardInfo[] = []
    const listing = listObjects(this.context.s3, {
      bucket: target.Bucket,
      prefix: engagementKeys.auditLogPrefix(engagementId),
      expectedOwner: target.ExpectedBucketOwner,
    })
    for await (const object of listing) {
      const shard = shardNumberOf(engagementId, object.Key!)
      if (shard !== undefined) shards.push({key: object.Key!, shard, size: object.Size ?? 0})
    }
    return shards.sort((a, b) => a.shard - b.shard)
  }

  /** Appends one event to the last shard, or starts the next shard when the last is full. */
  async append(event: AuditEvent, bucket?: string): Promise<void> {
    const engagementId = event.engagement_id
    const line = `${JSON.stringify(event)}\n`
    const target = await this.target(bucket)
    for (let attemptNumber = 1; attemptNumber <= this.maxAttempts; attemptNumber++) {
      const last = (await this.listShards(engagementId, bucket)).at(-1)
      let key = engagementKeys.auditLogShard(engagementId, 0)
      let body = line
      let condition: {IfMatch?: string; IfNoneMatch?: string} = {IfNoneMatch: '*'}
      if (last && last.size + Buffer.byteLength(line) <= this.maxShardBytes) {
        const reply = await attempt({action: 'Reading an audit-log shard', bucket: target.Bucket, key: last.key}, async () => {
          const object = await this.context.s3.send(new GetObjectCommand({...target, Key: last.key}))
          return {text: await object.Body!.transformToString('utf8'), etag: object.ETag}
        })
        const separator = reply.text === '' || reply.text.endsWith('\n') ? '' : '\n'
        key = last.key
        body = reply.text + separator + line
        condition = {IfMatch: reply.etag}
      } else if (last) {
        key = engagementKeys.auditLogShard(engagementId, last.shard + 1)
      }
      try {
        await this.context.s3.send(new PutObjectCommand({...target, Key: key, Body: body, ContentType: 'application/x-ndjson', ...condition}))
        return
      } catch (error) {
        if (!isPreconditionFailure(error)) throw describeAwsError(error, {action: 'Appending to the audit log', bucket: target.Bucket, key})
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * attemptNumber))
    }
    throw new AuditforgeError(`Appending to the audit log of ${engagementId} in s3://${target.Bucket}: it kept changing`, {
      code: 'conflict',
      exit: ExitCode.conflict,
      suggestion: 'Run the command again.',
    })
  }
}
