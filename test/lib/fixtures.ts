/**
 * Shared pieces of the library unit tests: an AwsContext built by hand (no STS, fake
 * credentials), GetObject bodies as the SDK returns them, and SDK-shaped errors.
 */
import {Readable} from 'node:stream'

import {GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException} from '@aws-sdk/client-s3'
import {sdkStreamMixin} from '@smithy/core/serde'
import type {AwsStub} from 'aws-sdk-client-mock'
import {expect} from 'vitest'

import type {AwsContext} from '../../src/lib/aws.js'
import {type SettingFlags, resolveSettings} from '../../src/lib/config.js'
import type {EngagementRecord} from '../../src/lib/engagement-index.js'
import {AuditforgeError} from '../../src/lib/errors.js'

export const accountId = '123456789012'
export const callerArn = 'arn:aws:iam::123456789012:user/test'
export const sharedBucket = 'platform-shared'

/** An AwsContext over a real S3Client class (which the test file's mockClient intercepts). */
export function testContext(
  flags: SettingFlags = {},
  env: Record<string, string | undefined> = {},
  region = 'us-east-1',
): AwsContext {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  return {
    s3: new S3Client({region, credentials: {accessKeyId: 'x', secretAccessKey: 'x'}}),
    settings: resolveSettings({'shared-bucket': sharedBucket, ...flags}, env),
    accountId: async () => accountId,
    callerArn: async () => callerArn,
  }
}

/** A GetObject Body as the SDK hands it out: a stream with transformToString & co. A fresh one per call. */
export function streamBody(text: string) {
  return sdkStreamMixin(Readable.from([Buffer.from(text, 'utf8')])) as ReturnType<typeof sdkStreamMixin> & Readable
}

/** An S3 service error as the SDK throws it for an unmodelled code. */
export function s3Error(name: string, httpStatusCode: number, message = `${name} (test)`): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: {httpStatusCode},
    message,
  })
}

/** A Node system error as the HTTP handler throws it (name "Error", the errno code in `code`). */
export function systemError(code: string, message: string): Error {
  return Object.assign(new Error(message), {code, errno: -1, syscall: 'connect'})
}

/** The AuditforgeError a promise rejects with (the test fails if it resolves or rejects with anything else). */
export async function failure(promise: Promise<unknown>): Promise<AuditforgeError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(AuditforgeError)
  return error as AuditforgeError
}

/** An engagement record as the index holds it; `sourceBucket` '' for one in the shared bucket. */
export function recordOf(id: string, sourceBucket = ''): EngagementRecord {
  return {
    engagement_id: id,
    name: id,
    client_id: 'c',
    created_at: '2024-01-01T00:00:00Z',
    source_bucket: sourceBucket,
    findings_key: `auditforge/engagements/${id}/findings.json`,
    audit_log_key: `auditforge/engagements/${id}/audit_log/`,
  }
}

/** The index (`auditforge/engagements.json`) as S3 would serve it from the mock: what was last written to it, starting with these records. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function serveIndex(s3Mock: AwsStub<any, any, any>, ...records: EngagementRecord[]): void {
  const indexKey = 'auditforge/engagements.json'
  let current = JSON.stringify({engagements: records})
  let version = 1
  s3Mock.on(GetObjectCommand, {Key: indexKey}).callsFake(() => ({Body: streamBody(current), ETag: `"${version}"`}))
  s3Mock.on(PutObjectCommand, {Key: indexKey}).callsFake((input: {Body: string}) => {
    current = input.Body
    version++
    return {}
  })
}
