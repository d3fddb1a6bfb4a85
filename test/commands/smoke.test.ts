import {describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

describe('smoke', () => {
  it('creates and lists an engagement in a fresh shared bucket', async () => {
    const bucket = await createSharedBucket(testS3())
    const created = await runJson<{engagement_id: string}>([
      'engagement',
      'create',
      '--name',
      'Smoke',
      '--shared-bucket',
      bucket,
    ])
    expect(created.code).toBe(0)
    const listed = await runJson<{engagements: {engagement_id: string}[]}>([
      'engagement',
      'list',
      '--shared-bucket',
      bucket,
    ])
    expect(listed.json.engagements.map((record) => record.engagement_id)).toEqual([created.json.engagement_id])
  })

  it('rejects a bad id with exit 2', async () => {
    const result = await runCli(['engagement', 'show', '../x', '--shared-bucket', 'whatever'])
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
  })
})
