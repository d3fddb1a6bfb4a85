/**
 * Two environments in one account: production and a staging index seeded from a copy of
 * production's. A production bucket from before index binding (no auditforge:index tag) must
 * survive everything staging can do with its copied records: delete, decommission, migrate.
 */
import {DeleteBucketTaggingCommand, PutBucketTaggingCommand} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {
  awsS3api,
  bucketExists,
  listAllVersions,
  putIndex,
  putRaw,
  randomEngagementId,
  readIndex,
  recordsOf,
  seedRecord,
} from '../helpers/commands.js'
import {createSharedBucket, getText as getObjectText, testS3} from '../helpers/s3.js'

/** A production engagement in its own bucket, provisioned, then stripped of its binding (a bucket from before binding). */
async function legacyProduction() {
  const s3 = testS3()
  const [production, staging] = await Promise.all([createSharedBucket(s3, 'prod'), createSharedBucket(s3, 'staging')])
  const id = randomEngagementId()
  await putIndex(s3, production, {engagements: [seedRecord(id)]})
  const provisioned = await runCli(['bucket', 'provision', id, '--shared-bucket', production])
  expect(provisioned.code, provisioned.stderr).toBe(0)
  const bucket = provisioned.stdout.trim()
  await s3.send(new DeleteBucketTaggingCommand({Bucket: bucket}))
  await s3.send(
    new PutBucketTaggingCommand({
      Bucket: bucket,
      Tagging: {
        TagSet: [
          {Key: 'auditforge:engagement-id', Value: id},
          {Key: 'auditforge:managed-by', Value: 'auditforge'},
        ],
      },
    }),
  )
  const findings = `auditforge/engagements/${id}/findings.json`
  await putRaw(s3, bucket, findings, '{"client": "production"}')
  const index = {engagements: [seedRecord(id, {source_bucket: bucket})]}
  await putIndex(s3, production, index)
  // Staging was seeded from a copy of production's index.
  await putIndex(s3, staging, index)
  return {s3, production, staging, id, bucket, findings}
}

describe('two environments in one account', () => {
  it("staging's engagement delete leaves production's unbound bucket and its data in place", async () => {
    const {s3, staging, id, bucket, findings} = await legacyProduction()
    const result = await runJson<{bucket: string; cleanup_error?: string}>([
      'engagement',
      'delete',
      id,
      '--yes',
      '--shared-bucket',
      staging,
    ])
    expect(result.code, result.stderr).toBe(0)
    expect(result.json).toMatchObject({
      bucket: 'cleanup_failed',
      cleanup_error: expect.stringContaining('not bound to any engagement index'),
    })
    expect(await bucketExists(s3, bucket)).toBe(true)
    expect(await getObjectText(s3, bucket, findings)).toBe('{"client": "production"}')
  })

  it('staging cannot decommission it, bind it with verify --fix when production bound it first, or migrate into it', async () => {
    const {s3, production, staging, id, bucket, findings} = await legacyProduction()
    const decommission = await runCli(['bucket', 'decommission', bucket, '--yes', '--shared-bucket', staging])
    expect(decommission.code).toBe(5)

    // Production binds its buckets first, as the README says; staging's --fix then cannot take them.
    const bound = await runJson<{ok: boolean}>(['bucket', 'verify', bucket, '--fix', '--shared-bucket', production])
    expect(bound.code, bound.stderr).toBe(0)
    const stagingFix = await runJson<{ok: boolean; buckets: {fix_refused?: string}[]}>([
      'bucket',
      'verify',
      bucket,
      '--fix',
      '--shared-bucket',
      staging,
    ])
    expect(stagingFix.code).toBe(5)
    expect(stagingFix.json.buckets[0].fix_refused).toContain(`bound to the engagement index in ${production}`)
    const tags = await awsS3api(['get-bucket-tagging', '--bucket', bucket])
    expect(tags.json.TagSet).toContainEqual({Key: 'auditforge:index', Value: production})

    // Staging's copy of the record says "shared bucket": its migrate must not write into production's bucket.
    await putIndex(s3, staging, {engagements: [seedRecord(id)]})
    await putRaw(s3, staging, findings, '{"client": "staging test data"}')
    const migrate = await runJson<{engagements: {status: string}[]}>([
      'migrate',
      '--engagement-id',
      id,
      '--execute',
      '--yes',
      '--shared-bucket',
      staging,
    ])
    expect(migrate.json.engagements[0].status).toBe('failed')
    expect(await getObjectText(s3, bucket, findings)).toBe('{"client": "production"}')
    expect((await listAllVersions(s3, bucket, findings)).length).toBe(1)
    expect(recordsOf((await readIndex(s3, staging)).json)[0].source_bucket).toBe('')
  })
})
