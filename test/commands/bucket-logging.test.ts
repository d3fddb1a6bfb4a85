/**
 * The opt-in logging controls on moto (which serves S3 and CloudTrail on the same port):
 * server access logging and the CloudTrail data-events selector, each applied and read back with
 * the aws CLI, drifted with the aws CLI, reported by verify (exit 4) and repaired by --fix, with
 * the trail's other selectors kept.
 */
import {describe, expect, it} from 'vitest'

import {runJson} from '../helpers/cli.js'
import {awsCli, awsS3api, putIndex, randomEngagementId, seedRecord} from '../helpers/commands.js'
import {createSharedBucket, testS3, uniqueName} from '../helpers/s3.js'

interface VerifyOutput {
  ok: boolean
  buckets: {controls: {control: string; status: string; actual: string}[]}[]
}

const rowOf = (output: VerifyOutput, control: string) =>
  output.buckets[0].controls.find((row) => row.control === control)!

async function sharedWithRecord() {
  const s3 = testS3()
  const shared = await createSharedBucket(s3)
  const id = randomEngagementId()
  await putIndex(s3, shared, {engagements: [seedRecord(id)]})
  return {s3, shared, id}
}

describe('access-logging', () => {
  it('is applied and read back, turned off with the aws CLI (exit 4), and --fix turns it on again', async () => {
    const {shared, id} = await sharedWithRecord()
    // The log bucket lets S3's logging service write, as it must on AWS too.
    const logs = uniqueName('access-logs')
    expect((await awsS3api(['create-bucket', '--bucket', logs])).code).toBe(0)
    const grant = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: {Service: 'logging.s3.amazonaws.com'},
          Action: ['s3:PutObject'],
          Resource: `arn:aws:s3:::${logs}/*`,
        },
      ],
    }
    expect((await awsS3api(['put-bucket-policy', '--bucket', logs, '--policy', JSON.stringify(grant)])).code).toBe(0)

    const env = {AUDITFORGE_BUCKET: shared, AUDITFORGE_ACCESS_LOG_BUCKET: logs}
    const provisioned = await runJson<{bucket: string}>(['bucket', 'provision', id, '--access-log-bucket', logs], {
      env: {AUDITFORGE_BUCKET: shared},
    })
    expect(provisioned.code, provisioned.stderr).toBe(0)
    const bucket = provisioned.json.bucket
    const logging = async () => (await awsS3api(['get-bucket-logging', '--bucket', bucket])).json?.LoggingEnabled
    expect(await logging()).toEqual({TargetBucket: logs, TargetPrefix: `auditforge/access-logs/${id}/`})
    const verified = await runJson<VerifyOutput>(['bucket', 'verify', bucket], {env})
    expect(verified.code, verified.stderr).toBe(0)
    expect(rowOf(verified.json, 'access-logging')).toMatchObject({
      status: 'pass',
      actual: `s3://${logs}/auditforge/access-logs/${id}/`,
    })

    expect((await awsS3api(['put-bucket-logging', '--bucket', bucket, '--bucket-logging-status', '{}'])).code).toBe(0)
    const drifted = await runJson<VerifyOutput>(['bucket', 'verify', bucket], {env})
    expect(drifted.code).toBe(4)
    expect(rowOf(drifted.json, 'access-logging')).toMatchObject({status: 'fail', actual: 'off'})
    const fixed = await runJson<VerifyOutput>(['bucket', 'verify', bucket, '--fix'], {env})
    expect(fixed.code, fixed.stderr).toBe(0)
    expect(await logging()).toEqual({TargetBucket: logs, TargetPrefix: `auditforge/access-logs/${id}/`})
  })
})

describe('cloudtrail-data-events', () => {
  it("adds the bucket's selector to an existing trail, keeping its other selectors; a removal with the aws CLI is drift; --fix adds it back", async () => {
    const {shared, id} = await sharedWithRecord()
    const trailLogs = uniqueName('trail-logs')
    expect((await awsS3api(['create-bucket', '--bucket', trailLogs])).code).toBe(0)
    const trail = uniqueName('platform-trail')
    const createdTrail = await awsCli(['cloudtrail', 'create-trail', '--name', trail, '--s3-bucket-name', trailLogs])
    expect(createdTrail.code, createdTrail.stderr).toBe(0)
    const management = {Name: 'Management events', FieldSelectors: [{Field: 'eventCategory', Equals: ['Management']}]}
    const theirs = {
      Name: 'Lambda data events',
      FieldSelectors: [
        {Field: 'eventCategory', Equals: ['Data']},
        {Field: 'resources.type', Equals: ['AWS::Lambda::Function']},
      ],
    }
    const putSelectors = (selectors: object[]) =>
      awsCli([
        'cloudtrail',
        'put-event-selectors',
        '--trail-name',
        trail,
        '--advanced-event-selectors',
        JSON.stringify(selectors),
      ])
    expect((await putSelectors([management, theirs])).code).toBe(0)

    const provisioned = await runJson<{bucket: string}>(['bucket', 'provision', id, '--cloudtrail-trail', trail], {
      env: {AUDITFORGE_BUCKET: shared},
    })
    expect(provisioned.code, provisioned.stderr).toBe(0)
    const bucket = provisioned.json.bucket
    const ours = {
      Name: `auditforge ${bucket}`,
      FieldSelectors: [
        {Field: 'eventCategory', Equals: ['Data']},
        {Field: 'resources.type', Equals: ['AWS::S3::Object']},
        {Field: 'resources.ARN', StartsWith: [`arn:aws:s3:::${bucket}/`]},
      ],
    }
    const selectors = async () =>
      (await awsCli(['cloudtrail', 'get-event-selectors', '--trail-name', trail])).json.AdvancedEventSelectors
    expect(await selectors()).toEqual([management, theirs, ours])

    const env = {AUDITFORGE_BUCKET: shared, AUDITFORGE_CLOUDTRAIL_TRAIL: trail}
    const verified = await runJson<VerifyOutput>(['bucket', 'verify', bucket, '--standard', 'cis'], {env})
    expect(verified.code, verified.stderr).toBe(0)
    expect(rowOf(verified.json, 'cloudtrail-data-events')).toMatchObject({status: 'pass', standard_ids: ['3.8', '3.9']})

    expect((await putSelectors([management, theirs])).code).toBe(0)
    const drifted = await runJson<VerifyOutput>(['bucket', 'verify', bucket], {env})
    expect(drifted.code).toBe(4)
    expect(rowOf(drifted.json, 'cloudtrail-data-events')).toMatchObject({
      status: 'fail',
      actual: `not logged by ${trail}`,
    })
    const fixed = await runJson<VerifyOutput>(['bucket', 'verify', bucket, '--fix'], {env})
    expect(fixed.code, fixed.stderr).toBe(0)
    expect(await selectors()).toEqual([management, theirs, ours])

    // Decommissioned, the bucket's selector comes off the trail (500 conditions per trail), and only it.
    const gone = await runJson<{trail_selector: string}>(['bucket', 'decommission', bucket, '--yes'], {env})
    expect(gone.code, gone.stderr).toBe(0)
    expect(gone.json.trail_selector).toBe('removed')
    expect(await selectors()).toEqual([management, theirs])
  })

  it('a trail that does not exist fails the provisioning with a message naming it (exit 1)', async () => {
    const {shared, id} = await sharedWithRecord()
    const result = await runJson<{error: {message: string; exit: number}}>(
      ['bucket', 'provision', id, '--cloudtrail-trail', 'no-such-trail'],
      {env: {AUDITFORGE_BUCKET: shared}},
    )
    expect(result.code).toBe(1)
    expect(result.json.error.message).toContain('no-such-trail')
  })
})
