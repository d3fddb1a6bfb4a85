/**
 * Review, through the built CLI on moto: `migrate purge-source` on an engagement migrated before
 * evidence existed (the README's "Engagements migrated before evidence existed are compared as
 * they stand"). purge-source refuses `no_evidence` (exit 5) and suggests
 * `auditforge migrate --engagement-id ID --verify-only`; that command passes but records no run
 * summary (only deep checks write a verification record, and purge-source reads neither), so the
 * suggestion never changes the refusal: such an engagement can never be purged, and nothing in the
 * tool says so. Expected to FAIL against the code under review (the last assertion).
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

describe('review: purge-source no_evidence suggestion', () => {
  it('following the suggested --verify-only lifts the no_evidence refusal (it does not)', async () => {
    const bucket = await createSharedBucket(s3, 'review-purge-cli')
    const id = randomEngagementId()
    const own = await makeManagedBucket(s3, id, bucket)
    await putIndex(s3, bucket, {engagements: [seedRecord(id, {source_bucket: own})]})
    for (const target of [bucket, own]) await s3.send(new PutObjectCommand({Bucket: target, Key: key(id, 'findings.json'), Body: 'same bytes on both sides'}))

    const first = await runJson<{refusal: {code: string; suggestion: string} | null}>(['migrate', 'purge-source', '--engagement-id', id, '--shared-bucket', bucket, '--min-age', '0'])
    expect(first.code).toBe(5)
    expect(first.json.refusal).toMatchObject({code: 'no_evidence', suggestion: `Verify and record the migration first: auditforge migrate --engagement-id ${id} --verify-only`})

    const verify = await runCli(['migrate', '--engagement-id', id, '--verify-only', '--shared-bucket', bucket])
    expect(verify.code, verify.stderr).toBe(0)

    const again = await runJson<{refusal: {code: string} | null}>(['migrate', 'purge-source', '--engagement-id', id, '--shared-bucket', bucket, '--min-age', '0'])
    expect(again.json.refusal?.code, 'the suggested command was run and passed').not.toBe('no_evidence')
  })
})
