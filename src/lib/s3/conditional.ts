/**
 * Reading a small text object with its ETag, and the one conditional-write loop that every
 * read-modify-write of a shared object goes through (the engagement index, audit-log shards).
 *
 * A write is conditional on what was read: `If-Match` the ETag, or `If-None-Match: *` when the
 * object did not exist. A 412 (or S3's 409 ConditionalRequestConflict) means someone else
 * wrote first. A 5xx or a dropped connection means the write *may have landed*. In both cases
 * the loop reads again and asks the caller's plan what to write now; the plan sees whether its
 * own earlier write is already there and then answers "nothing", so a lost answer never turns
 * into a duplicate write, and a real conflict never into a lost one.
 */
import {GetObjectCommand, PutObjectCommand, type S3Client} from '@aws-sdk/client-s3'

import {
  AuditforgeError,
  ExitCode,
  attempt,
  awsErrorCode,
  describeAwsError,
  httpStatus,
  isNetworkError,
  isPreconditionFailure,
} from '../errors.js'

export interface ObjectLocation {
  bucket: string
  key: string
  /** Passed as ExpectedBucketOwner; set for every per-engagement bucket. */
  expectedOwner?: string
}

export interface StoredText {
  text: string
  etag?: string
}

/**
 * The object's text and ETag, or undefined when the key does not exist. A missing bucket is
 * an error (exit 3), never "no object".
 */
export async function readText(
  s3: S3Client,
  location: ObjectLocation,
  action: string,
): Promise<StoredText | undefined> {
  const context = {action, bucket: location.bucket, key: location.key}
  try {
    const reply = await s3.send(
      new GetObjectCommand({Bucket: location.bucket, Key: location.key, ExpectedBucketOwner: location.expectedOwner}),
    )
    return {text: reply.Body ? await reply.Body.transformToString('utf8') : '', etag: reply.ETag}
  } catch (error) {
    const code = awsErrorCode(error)
    if (code === 'NoSuchKey' || (httpStatus(error) === 404 && code !== 'NoSuchBucket')) return undefined
    throw describeAwsError(error, context)
  }
}

/** Whether the write was made (its new ETag when this very call made it) or was already in place. */
export interface WriteOutcome {
  outcome: 'written' | 'in_place'
  /** The ETag of the object this call wrote; unknown when the answer was lost. */
  etag?: string
}

/** What a plan wants written on this attempt. */
export interface PlannedWrite {
  key: string
  body: string
  contentType: string
  /** The ETag the object must still have; undefined: the object must not exist yet. */
  ifMatch?: string
}

export interface ConditionalWriteOptions {
  bucket: string
  expectedOwner?: string
  /** Names the write in errors, e.g. "Writing the engagement index". */
  action: string
  /** What the exit-6 error says kept changing, e.g. "The engagement index s3://b/k". */
  subject: string
  maxAttempts?: number
  /** Waits between attempts; injectable so tests do not sleep. */
  sleep?: (ms: number) => Promise<void>
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * Runs `plan` and writes what it returns, conditionally; on a conflict or an uncertain outcome
 * runs `plan` again (it re-reads) and retries with jittered backoff. `plan` returns undefined
 * when there is nothing (left) to write. After `maxAttempts` conflicts: exit 6. Uncertain
 * outcomes (5xx, timeouts, resets) are retried twice; after the third, or when attempts run out
 * on one, a last plan tells whether the write landed; if it did not, the transport error stands
 * (exit 1).
 */
export async function writeConditionally(
  s3: S3Client,
  options: ConditionalWriteOptions,
  plan: () => Promise<PlannedWrite | undefined>,
): Promise<WriteOutcome> {
  const maxAttempts = options.maxAttempts ?? 10
  const sleep = options.sleep ?? defaultSleep
  let lastUncertain: unknown
  // Each uncertain attempt already spent the SDK's own retries and time bound; a few more
  // are worth it, ten are not (the command would take ten times its documented bound).
  let uncertain = 0
  const maxUncertain = 2
  const settleUncertain = async (error: unknown): Promise<WriteOutcome> => {
    if ((await plan()) === undefined) return {outcome: 'written'}
    throw describeAwsError(error, {action: options.action, bucket: options.bucket})
  }
  for (let attemptNumber = 1; attemptNumber <= maxAttempts; attemptNumber++) {
    const write = await plan()
    if (write === undefined) return {outcome: attemptNumber === 1 ? 'in_place' : 'written'}
    try {
      const reply = await s3.send(
        new PutObjectCommand({
          Bucket: options.bucket,
          Key: write.key,
          Body: write.body,
          ContentType: write.contentType,
          ExpectedBucketOwner: options.expectedOwner,
          ...(write.ifMatch === undefined ? {IfNoneMatch: '*'} : {IfMatch: write.ifMatch}),
        }),
      )
      return {outcome: 'written', etag: reply.ETag}
    } catch (error) {
      if (isPreconditionFailure(error)) lastUncertain = undefined
      else if (isUncertainOutcome(error) && ++uncertain <= maxUncertain) lastUncertain = error
      else if (isUncertainOutcome(error)) return settleUncertain(error)
      else throw describeAwsError(error, {action: options.action, bucket: options.bucket, key: write.key})
    }
    await sleep(backoff(attemptNumber))
  }
  if (lastUncertain !== undefined) return settleUncertain(lastUncertain)
  throw new AuditforgeError(`${options.subject} kept changing; gave up after ${maxAttempts} conditional writes`, {
    code: 'conflict',
    exit: ExitCode.conflict,
    suggestion: 'Another operator is changing the same object; run the command again.',
  })
}

/**
 * Writes a small object whole; with `ifAbsent`, only when the key does not exist yet (a 412
 * otherwise). Returns its new ETag and version id.
 */
export async function putObject(
  s3: S3Client,
  location: ObjectLocation,
  body: string | Uint8Array,
  options: {contentType: string; action: string; ifAbsent?: boolean},
): Promise<{etag: string | null; versionId: string | null}> {
  const reply = await attempt({action: options.action, bucket: location.bucket, key: location.key}, () =>
    s3.send(
      new PutObjectCommand({
        Bucket: location.bucket,
        Key: location.key,
        Body: body,
        ContentType: options.contentType,
        ExpectedBucketOwner: location.expectedOwner,
        ...(options.ifAbsent ? {IfNoneMatch: '*'} : {}),
      }),
    ),
  )
  return {etag: reply.ETag ?? null, versionId: reply.VersionId ?? null}
}

/** A single conditional PutObject, no retry: for probes that test the conditions themselves. */
export async function putIfAbsent(s3: S3Client, location: ObjectLocation, body: string): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: location.bucket,
      Key: location.key,
      Body: body,
      ExpectedBucketOwner: location.expectedOwner,
      IfNoneMatch: '*',
    }),
  )
}

/** A single PutObject conditional on the ETag, no retry: for probes that test the conditions. */
export async function putIfMatch(s3: S3Client, location: ObjectLocation, body: string, etag: string): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: location.bucket,
      Key: location.key,
      Body: body,
      ExpectedBucketOwner: location.expectedOwner,
      IfMatch: etag,
    }),
  )
}

/** A 5xx or a transport failure: the request may or may not have been carried out. */
export function isUncertainOutcome(error: unknown): boolean {
  const status = httpStatus(error)
  if (status !== undefined) return status >= 500
  return isNetworkError(error)
}

/** Full jitter: a random wait up to an exponentially growing cap (50 ms .. 2 s). */
export function backoff(attemptNumber: number): number {
  return Math.random() * Math.min(2_000, 50 * 2 ** attemptNumber)
}
