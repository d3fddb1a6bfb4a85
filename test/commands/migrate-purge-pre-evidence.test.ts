/**
 * `migrate purge-source` for an engagement migrated before evidence existed (its record points
 * at its bucket, no run summary): refused `no_evidence` (exit 5), with a way out that works —
 * roll back and migrate again, which proves what is already in the bucket and records evidence.
 */
import {PutObjectCommand, type S3Client} from '@aws-sdk/client-s3'
import {beforeAll, describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {makeManagedBucket, putIndex, randomEngagementId, seedRecord} from '../helpers/commands.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

let s3: S3Client
beforeAll(() => {
  s3 = testS3()
})

const key = (id: string, name: string) => `auditforge/engagements/${id}/${name}`

describe('migrate purge-source: an engagement migrated before evidence', () => {
  it('is refused no_evidence with a suggestion that, followed, makes it purgeable', async () => {
    const bucket = await createSharedBucket(s3, 'purge-pre-evidence')
    const id = randomEngagementId()
    const own = await makeManagedBucket(s3, id, bucket)
    await putIndex(s3, bucket, {engagements: [seedRecord(id, {source_bucket: own})]})
    for (const target of [bucket, own])
      await s3.send(
        new PutObjectCommand({Bucket: target, Key: key(id, 'findings.json'), Body: 'same bytes on both sides'}),
      )

    const first = await runJson<{status: string; error: {code: string; suggestion: string} | null}>([
      'migrate',
      'purge-source',
      '--engagement-id',
      id,
      '--shared-bucket',
      bucket,
      '--min-age',
      '0',
    ])
    expect(first.code).toBe(5)
    expect(first.json.status).toBe('no_evidence')
    expect(first.json.error?.code).toBe('no_evidence')
    expect(first.json.error?.suggestion).toContain(`auditforge migrate rollback --engagement-id ${id}`)
    expect(first.json.error?.suggestion).toContain(`migrate --engagement-id ${id} --execute`)

    const rollback = await runCli(['migrate', 'rollback', '--engagement-id', id, '--shared-bucket', bucket, '--yes'])
    expect(rollback.code, rollback.stderr).toBe(0)
    const migrated = await runJson<{engagements: {status: string; copied: number; skipped_existing: number}[]}>([
      'migrate',
      '--engagement-id',
      id,
      '--execute',
      '--yes',
      '--shared-bucket',
      bucket,
    ])
    expect(migrated.code, migrated.stderr).toBe(0)
    // What was already in the bucket is proven by its MD5, not copied again.
    expect(migrated.json.engagements[0]).toMatchObject({status: 'migrated', skipped_existing: 1})

    const again = await runJson<{status: string; error: {code: string} | null}>([
      'migrate',
      'purge-source',
      '--engagement-id',
      id,
      '--shared-bucket',
      bucket,
      '--min-age',
      '0',
    ])
    expect(again.code, again.stderr).toBe(0)
    expect(again.json).toMatchObject({status: 'would_purge', error: null})
    expect(again.json).not.toHaveProperty('refusal')
  })
})
