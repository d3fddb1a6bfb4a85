/**
 * Where an engagement's data lives, and the stores that read and write it. Every store method
 * takes an optional bucket override (the engagement's own bucket) and falls back to the shared
 * platform bucket, as the platform's FindingsStore does (seed 000).
 */
import {randomUUID} from 'node:crypto'

import type {AwsContext} from './aws.js'
import type {EngagementRecord} from './engagement-index.js'
import {engagementKeys, shardNumberOf} from './layout.js'
import {listObjects, putObject, readText, writeConditionally} from './s3/index.js'

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
    return (
      await readText(this.context.s3, {bucket: target.Bucket, key, expectedOwner: target.ExpectedBucketOwner}, action)
    )?.text
  }

  protected async putBody(
    bucket: string | undefined,
    key: string,
    body: string | Uint8Array,
    contentType: string,
    action: string,
  ) {
    const target = await this.target(bucket)
    await putObject(this.context.s3, {bucket: target.Bucket, key, expectedOwner: target.ExpectedBucketOwner}, body, {
      contentType,
      action,
    })
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
    await this.putBody(
      bucket,
      key,
      body,
      deliverableTypes[extension] ?? 'application/octet-stream',
      'Writing a deliverable',
    )
  }

  async putMethodology(engagementId: string, markdown: string, bucket?: string): Promise<void> {
    await this.putBody(
      bucket,
      engagementKeys.methodology(engagementId),
      markdown,
      deliverableTypes.md,
      'Writing the methodology',
    )
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
  /** Unique per event; set by `append` when absent. */
  event_id?: string
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
      const shard = shardNumberOf(engagementId, object.Key)
      if (shard !== undefined) shards.push({key: object.Key, shard, size: object.Size ?? 0})
    }
    return shards.sort((a, b) => a.shard - b.shard)
  }

  /**
   * Appends one event to the last shard, or starts the next shard when the last is full. The
   * event carries an `event_id` (a fresh UUID unless given), which is how a retry after a lost
   * answer recognises that its own line already landed and does not write it twice.
   */
  async append(event: AuditEvent, bucket?: string): Promise<void> {
    const engagementId = event.engagement_id
    const stamped = {...event, event_id: event.event_id ?? randomUUID()}
    const line = `${JSON.stringify(stamped)}\n`
    const lineBytes = Buffer.byteLength(line)
    const marker = `"event_id":${JSON.stringify(stamped.event_id)}`
    let attempts = 0
    const attempted = new Set<string>()
    const target = await this.target(bucket)
    const planAppend = async () => {
      const last = (await this.listShards(engagementId, bucket)).at(-1)
      if (last === undefined) return {key: engagementKeys.auditLogShard(engagementId, 0), body: line, contentType}
      const next = {key: engagementKeys.auditLogShard(engagementId, last.shard + 1), body: line, contentType}
      // A full shard is not read on the first attempt; on a retry it is, since the line may
      // be in it already.
      if (last.size + lineBytes > this.maxShardBytes && attempts === 1) return next
      const location = {bucket: target.Bucket, key: last.key, expectedOwner: target.ExpectedBucketOwner}
      const stored = await readText(this.context.s3, location, 'Reading an audit-log shard')
      if (stored?.text.includes(marker)) return undefined
      if (stored === undefined) return {key: last.key, body: line, contentType}
      if (Buffer.byteLength(stored.text) + lineBytes > this.maxShardBytes) return next
      const separator = stored.text === '' || stored.text.endsWith('\n') ? '' : '\n'
      return {key: last.key, body: stored.text + separator + line, contentType, ifMatch: stored.etag}
    }
    await writeConditionally(
      this.context.s3,
      {
        bucket: target.Bucket,
        expectedOwner: target.ExpectedBucketOwner,
        action: 'Appending to the audit log',
        subject: `The audit log of ${engagementId} in s3://${target.Bucket}`,
        maxAttempts: this.maxAttempts,
      },
      async () => {
        attempts++
        // A write whose answer was lost may have landed in a shard that is no longer the last
        // one (another writer started the next): every shard written to before is checked.
        for (const key of attempted) {
          const location = {bucket: target.Bucket, key, expectedOwner: target.ExpectedBucketOwner}
          if ((await readText(this.context.s3, location, 'Reading an audit-log shard'))?.text.includes(marker))
            return undefined
        }
        const write = await planAppend()
        if (write) attempted.add(write.key)
        return write
      },
    )
  }
}

const contentType = 'application/x-ndjson'
