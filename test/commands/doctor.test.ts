import {DeleteBucketCommand, PutBucketVersioningCommand} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {listAllVersions, putIndex, putRaw, randomEngagementId, seedRecord} from '../helpers/commands.js'
import {runCli, runJson} from '../helpers/cli.js'
import {createSharedBucket, motoAccountId, testS3} from '../helpers/s3.js'

interface DoctorOutput {
  ok: boolean
  checks: {check: string; status: string; detail: string}[]
}

const statusOf = (output: DoctorOutput, name: string) => output.checks.find((check) => check.check === name)

describe('auditforge doctor', () => {
  it('passes on a healthy setup and leaves no probe object behind', async () => {
    const s3 = testS3()
    const bucket = await createSharedBucket(s3, 'doctor')
    const created = await runJson<{source_bucket: string}>([
      'engagement',
      'create',
      '--name',
      'Doc',
      '--isolated',
      '--shared-bucket',
      bucket,
    ])
    expect(created.code).toBe(0)
    const result = await runJson<DoctorOutput>(['doctor', '--shared-bucket', bucket])
    expect(result.code).toBe(0)
    expect(result.json.ok).toBe(true)
    for (const name of ['credentials', 'shared bucket', 'engagement index', 'conditional writes', 'bucket quota']) {
      expect(statusOf(result.json, name)?.status, name).toBe('pass')
    }
    // Other test files leave managed buckets behind in the same moto: at worst a warning here.
    expect(statusOf(result.json, 'engagement buckets')?.status).not.toBe('fail')
    expect(statusOf(result.json, 'credentials')?.detail).toContain(motoAccountId)
    // One engagement, said in the singular.
    expect(statusOf(result.json, 'engagement index')?.detail).toBe('1 engagement, 1 in its own bucket')
    expect(await listAllVersions(s3, bucket, 'auditforge/doctor/')).toEqual([])
  })

  it('fails (exit 4) when a record points at a bucket that is gone, and names it', async () => {
    const s3 = testS3()
    const bucket = await createSharedBucket(s3, 'doctor')
    const id = randomEngagementId()
    const gone = `metis-af-${id.slice(4)}-${motoAccountId}`
    await putIndex(s3, bucket, {engagements: [seedRecord(id, {source_bucket: gone})]})
    const result = await runJson<DoctorOutput>(['doctor', '--shared-bucket', bucket])
    expect(result.code).toBe(4)
    expect(result.json.ok).toBe(false)
    expect(statusOf(result.json, 'engagement buckets')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining(gone),
    })
  })

  it('warns on an unversioned shared bucket and fails on a corrupt index, in a table without --json', async () => {
    const s3 = testS3()
    const bucket = await createSharedBucket(s3, 'doctor')
    await s3.send(new PutBucketVersioningCommand({Bucket: bucket, VersioningConfiguration: {Status: 'Suspended'}}))
    await putRaw(s3, bucket, 'auditforge/engagements.json', '{not json')
    const result = await runCli(['doctor', '--shared-bucket', bucket])
    expect(result.code).toBe(4)
    expect(result.stdout).toMatch(/shared bucket\s+WARN/)
    expect(result.stdout).toMatch(/engagement index\s+FAIL\s+.*is corrupt/)
    expect(result.stdout).not.toContain('\u001b[')
  })

  it('fails on a shared bucket that does not exist', async () => {
    const s3 = testS3()
    const bucket = await createSharedBucket(s3, 'doctor')
    await s3.send(new DeleteBucketCommand({Bucket: bucket}))
    const result = await runJson<DoctorOutput>(['doctor', '--shared-bucket', bucket])
    expect(result.code).toBe(4)
    expect(statusOf(result.json, 'shared bucket')?.status).toBe('fail')
    // moto answers the HEAD with an empty text/html 404: that is a missing bucket, not a non-S3 answer.
    expect(result.json.checks.find((check) => check.check === 'shared bucket')?.detail).toBe(
      `Checking the shared bucket s3://${bucket}: the bucket does not exist`,
    )
    // Every command that reads the index says the same, with exit 3.
    for (const args of [
      ['engagement', 'list'],
      ['migrate', '--verify-only'],
      ['bucket', 'verify', '--all'],
    ]) {
      const read = await runCli([...args, '--shared-bucket', bucket])
      expect(read.code, read.stderr).toBe(3)
      expect(read.stderr).toMatch(new RegExp(`^Error: .*s3://${bucket}.*: the bucket does not exist\\n`))
    }
  })
})
