/**
 * S3 reachable, STS not (an S3-only endpoint or VPC endpoint, AWS_ENDPOINT_URL_STS pointing at a
 * closed port), with the account given by --account-id. Commands that only read work; commands
 * that record the caller's ARN as the actor of what they write fail before they write anything,
 * with one error naming STS and how to reach it, and never an invented actor.
 */
import {createServer} from 'node:net'

import {beforeAll, describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {
  auditShardKey,
  bucketExists,
  expectedBucketName,
  makeManagedBucket,
  putIndex,
  putRaw,
  randomEngagementId,
  readIndex,
  recordsOf,
  seedRecord,
  seedS3,
} from '../helpers/commands.js'
import {keysUnder} from '../helpers/faults.js'
import {createSharedBucket, motoAccountId, testS3} from '../helpers/s3.js'

const s3 = testS3()
let stsEndpoint: string
let env: Record<string, string>

beforeAll(async () => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const {port} = server.address() as {port: number}
  await new Promise((resolve) => server.close(resolve))
  stsEndpoint = `http://127.0.0.1:${port}`
  env = {AWS_ENDPOINT_URL_STS: stsEndpoint, AUDITFORGE_ACCOUNT_ID: motoAccountId, AWS_MAX_ATTEMPTS: '1'}
})

/** A shared bucket whose index holds one engagement in the shared bucket with one audit event, and one with its own bucket. */
async function seeded(stem: string) {
  const seed = seedS3()
  const bucket = await createSharedBucket(seed, stem)
  const shared = randomEngagementId()
  const isolated = randomEngagementId()
  const own = await makeManagedBucket(seed, isolated, bucket)
  await putIndex(seed, bucket, {engagements: [seedRecord(shared), seedRecord(isolated, {source_bucket: own})]})
  await putRaw(seed, bucket, auditShardKey(shared), `${JSON.stringify({event: 'engagement.created'})}\n`)
  await putRaw(seed, bucket, `auditforge/engagements/${shared}/source/doc.txt`, 'a document')
  return {bucket, shared, isolated, own}
}

type ErrorDocument = {error: {code: string; message: string; suggestion: string; exit: number}}

const lookupFailed = () =>
  `Looking up the caller identity (sts:GetCallerIdentity): could not reach ${stsEndpoint} (connect ECONNREFUSED ${stsEndpoint.slice('http://'.length)})`
const actorSuggestion =
  "This command records the caller's ARN as the actor of what it writes, so it needs STS even with --account-id. Point AWS_ENDPOINT_URL_STS at an STS endpoint that answers here (an STS VPC endpoint, for one), or run where STS is reachable."

describe('S3 reachable, STS not, --account-id given', () => {
  it('reading commands work: engagement list and show, migrate plan, --verify-only and evidence, bucket verify', async () => {
    const {bucket, shared, isolated, own} = await seeded('sts-read')
    for (const args of [
      ['engagement', 'list'],
      ['engagement', 'show', shared],
      ['migrate'],
      ['migrate', '--verify-only'],
      ['migrate', 'evidence', isolated],
      ['bucket', 'verify', own],
    ]) {
      const result = await runCli([...args, '--shared-bucket', bucket], {env})
      // bucket verify: drift (4) on a bucket made without the controls; migrate evidence: none (3).
      expect([0, 3, 4], `${args.join(' ')}: ${result.stderr}`).toContain(result.code)
      expect(result.stderr).not.toMatch(/sts|GetCallerIdentity/i)
    }
  })

  it('commands that write without recording an actor work: bucket provision, migrate rollback, audit-log export to stdout', async () => {
    const {bucket, shared, isolated} = await seeded('sts-write')
    const provisioned = await runCli(['bucket', 'provision', shared, '--shared-bucket', bucket], {env})
    expect(provisioned.code, provisioned.stderr).toBe(0)
    expect(await bucketExists(s3, expectedBucketName(shared))).toBe(true)
    const exported = await runCli(['audit-log', 'export', shared, '--shared-bucket', bucket], {env})
    expect(exported.code, exported.stderr).toBe(0)
    expect(exported.stdout).toBe(`${JSON.stringify({event: 'engagement.created'})}\n`)
    const rolledBack = await runCli(
      ['migrate', 'rollback', '--engagement-id', isolated, '--yes', '--shared-bucket', bucket],
      {
        env,
      },
    )
    expect(rolledBack.code, rolledBack.stderr).toBe(0)
    expect(
      recordsOf((await readIndex(s3, bucket)).json).find((record) => record.engagement_id === isolated)?.source_bucket,
    ).toBe('')
  })

  it('engagement create fails before anything is written, naming STS and AWS_ENDPOINT_URL_STS', async () => {
    const {bucket} = await seeded('sts-create')
    const before = await readIndex(s3, bucket)
    const result = await runJson<ErrorDocument>(
      ['engagement', 'create', '--name', 'No STS', '--isolated', '--shared-bucket', bucket],
      {env},
    )
    expect(result.code).toBe(1)
    expect(result.json.error).toEqual({code: 'network', exit: 1, message: lookupFailed(), suggestion: actorSuggestion})
    expect((await readIndex(s3, bucket)).etag).toBe(before.etag)
  })

  it('migrate --execute fails before the question and before any engagement is touched, without promising that a re-run finishes it', async () => {
    const {bucket, shared} = await seeded('sts-migrate')
    const before = await readIndex(s3, bucket)
    const result = await runCli(['migrate', '--execute', '--yes', '--shared-bucket', bucket], {env})
    expect(result.code).toBe(1)
    expect(result.stderr).toBe(`Error: ${lookupFailed()}\n  ${actorSuggestion}\n`)
    expect(await bucketExists(s3, expectedBucketName(shared))).toBe(false)
    expect(await keysUnder(s3, bucket, 'auditforge/leases/')).toEqual([])
    expect((await readIndex(s3, bucket)).etag).toBe(before.etag)
  })

  it('audit-log export --delivery signed_url fails before it uploads the export', async () => {
    const {bucket, shared} = await seeded('sts-export')
    const result = await runJson<ErrorDocument>(
      ['audit-log', 'export', shared, '--delivery', 'signed_url', '--shared-bucket', bucket],
      {env},
    )
    expect(result.code).toBe(1)
    expect(result.json.error.message).toBe(lookupFailed())
    expect(await keysUnder(s3, bucket, 'auditforge/exports/')).toEqual([])
  })

  it('engagement delete of an engagement with its own bucket fails before the record or any data is removed', async () => {
    const {bucket, isolated, own} = await seeded('sts-delete')
    const result = await runJson<ErrorDocument>(
      ['engagement', 'delete', isolated, '--yes', '--shared-bucket', bucket],
      {
        env,
      },
    )
    expect(result.code).toBe(1)
    expect(result.json.error.message).toBe(lookupFailed())
    expect(recordsOf((await readIndex(s3, bucket)).json).map((record) => record.engagement_id)).toContain(isolated)
    expect(await bucketExists(s3, own)).toBe(true)
  })

  it('engagement delete of a shared-bucket engagement needs no STS', async () => {
    const {bucket, shared} = await seeded('sts-delete-shared')
    const result = await runCli(['engagement', 'delete', shared, '--yes', '--shared-bucket', bucket], {env})
    expect(result.code, result.stderr).toBe(0)
    expect(await keysUnder(s3, bucket, `auditforge/engagements/${shared}/`)).toEqual([])
  })

  it('bucket decommission fails before the tombstone or any object is touched', async () => {
    const {bucket, own} = await seeded('sts-decommission')
    const orphan = await makeManagedBucket(seedS3(), randomEngagementId(), bucket)
    const result = await runJson<ErrorDocument>(
      ['bucket', 'decommission', orphan, '--yes', '--shared-bucket', bucket],
      {
        env,
      },
    )
    expect(result.code).toBe(1)
    expect(result.json.error.message).toBe(lookupFailed())
    expect(await bucketExists(s3, orphan)).toBe(true)
    expect(await bucketExists(s3, own)).toBe(true)
    expect(await keysUnder(s3, bucket, 'auditforge/decommissioned-buckets.json')).toEqual([])
  })
})
