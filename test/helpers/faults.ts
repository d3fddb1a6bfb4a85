/**
 * Shared checks of the fault-injection suite (test/faults): the one-error-line contract of a
 * failed run, and S3 state read straight from moto with the SDK (never through the proxy or the
 * code under test): audit-log events, bucket controls, keys under a prefix.
 */
import {
  GetBucketEncryptionCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3'
import {afterAll, beforeAll, beforeEach, expect, inject} from 'vitest'

import type {AuditEvent} from '../../src/lib/stores.js'
import {type FaultProxy, type FaultSettings, startFaultProxy} from '../fixtures/fault-proxy.js'

import {type CliResult, runCli} from './cli.js'
import {getText} from './s3.js'

/** The lines of stderr that start with `Error:`. */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('Error:'))
}

/** A failed run: the documented exit code, exactly one `Error:` line, nothing on stdout. */
export function expectOneErrorLine(result: CliResult, exit = 1): string {
  expect(result.code, result.stderr).toBe(exit)
  const found = errorLines(result.stderr)
  expect(found, result.stderr).toHaveLength(1)
  expect(result.stdout).toBe('')
  return found[0]
}

/** Every key under a prefix (current versions), paged through. */
export async function keysUnder(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = []
  let ContinuationToken: string | undefined
  do {
    const page = await s3.send(new ListObjectsV2Command({Bucket: bucket, Prefix: prefix, ContinuationToken}))
    for (const object of page.Contents ?? []) keys.push(object.Key!)
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (ContinuationToken)
  return keys
}

/** The engagement's audit-log events as stored, every shard in shard order. */
export async function auditEvents(s3: S3Client, bucket: string, engagementId: string): Promise<AuditEvent[]> {
  const keys = (await keysUnder(s3, bucket, `auditforge/engagements/${engagementId}/audit_log/`)).sort()
  const events: AuditEvent[] = []
  for (const key of keys) {
    const text = await getText(s3, bucket, key)
    for (const line of text.split('\n')) if (line.trim() !== '') events.push(JSON.parse(line) as AuditEvent)
  }
  return events
}

/** Every control of a provisioned bucket, read back with the SDK, and its binding to `index`. */
export async function expectFullyProvisioned(
  s3: S3Client,
  bucket: string,
  engagementId: string,
  index: string,
): Promise<void> {
  const [block, encryption, versioning, ownership, tags] = await Promise.all([
    s3.send(new GetPublicAccessBlockCommand({Bucket: bucket})),
    s3.send(new GetBucketEncryptionCommand({Bucket: bucket})),
    s3.send(new GetBucketVersioningCommand({Bucket: bucket})),
    s3.send(new GetBucketOwnershipControlsCommand({Bucket: bucket})),
    s3.send(new GetBucketTaggingCommand({Bucket: bucket})),
  ])
  expect(block.PublicAccessBlockConfiguration).toEqual({
    BlockPublicAcls: true,
    IgnorePublicAcls: true,
    BlockPublicPolicy: true,
    RestrictPublicBuckets: true,
  })
  expect(
    encryption.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm,
  ).toBe('AES256')
  expect(versioning.Status).toBe('Enabled')
  expect(ownership.OwnershipControls?.Rules?.[0]?.ObjectOwnership).toBe('BucketOwnerEnforced')
  const tagMap = Object.fromEntries((tags.TagSet ?? []).map((tag) => [tag.Key, tag.Value]))
  expect(tagMap).toMatchObject({
    'auditforge:engagement-id': engagementId,
    'auditforge:managed-by': 'auditforge',
    'auditforge:index': index,
  })
}

/** `/<bucket>/<key>` as the proxy logs paths, for `match.path`. */
export function pathOf(bucket: string, key: string): string {
  return `/${bucket}/${key}`
}

/** Requests to the bucket itself (`/<bucket>` or `/<bucket>/`): listings, DeleteObjects, bucket settings. */
export function bucketPath(bucket: string): RegExp {
  return new RegExp(`^/${bucket.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/?$`)
}

/** A regular expression matching exactly this text. */
export function exactly(text: string): RegExp {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`)
}

/** An object's text, read straight from moto. */
export const getTextOf = getText

/** Short time bounds, so a half-open write fails in a few seconds. */
export const bounded = {AUDITFORGE_READ_TIMEOUT: '1', AWS_MAX_ATTEMPTS: '2'}

/**
 * One fault proxy in front of moto for a test file: started before its tests, reset before
 * each, closed after. `run` runs the CLI through it with the faults given.
 */
export function useFaultProxy() {
  const holder: {proxy?: FaultProxy} = {}
  beforeAll(async () => {
    holder.proxy = await startFaultProxy(inject('motoEndpoint'))
  })
  afterAll(() => holder.proxy?.close())
  beforeEach(() => holder.proxy!.reset())
  return {
    get proxy(): FaultProxy {
      return holder.proxy!
    },
    /** Runs the CLI through the proxy, which applies `faults`. */
    run(args: string[], faults: FaultSettings, env: Record<string, string> = {}): Promise<CliResult> {
      holder.proxy!.set(faults)
      return runCli(args, {env: {AWS_ENDPOINT_URL: holder.proxy!.endpoint, ...env}, timeout: 40_000})
    },
    /** The requests the proxy faulted since the last reset. */
    faulted: () => holder.proxy!.log.filter((entry) => entry.fault !== undefined),
  }
}
