import {randomBytes} from 'node:crypto'

import {describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {
  auditShardKey,
  bucketExists,
  callerArn,
  expectedBucketName,
  indexKey,
  listBucketNames,
  objectExists,
  putIndex,
  putRaw,
  readIndex,
  recordsOf,
  seedRecord,
} from '../helpers/commands.js'
import {createSharedBucket, getText, motoAccountId, testS3} from '../helpers/s3.js'

interface EngagementRecord {
  engagement_id: string
  name: string
  client_id: string
  firm_id?: string
  created_at: string
  source_bucket: string
  findings_key: string
  audit_log_key: string
  [field: string]: unknown
}

function firstEvent(text: string): Record<string, unknown> {
  const lines = text.split('\n').filter((line) => line !== '')
  expect(lines.length).toBeGreaterThanOrEqual(1)
  return JSON.parse(lines[0])
}

describe('engagement create', () => {
  it('creates a shared-bucket engagement: record in the index, first audit event with the caller ARN', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const created = await runJson<EngagementRecord>(
      ['engagement', 'create', '--name', 'Acme FY26 SOC 2', '--client-id', 'acme', '--firm-id', 'firm-1'],
      {env: {AUDITFORGE_BUCKET: shared}},
    )
    expect(created.code, created.stderr).toBe(0)
    const id = created.json.engagement_id
    expect(id).toMatch(/^eng-[0-9a-f]{12}$/)

    const index = await readIndex(s3, shared)
    const stored = recordsOf(index.json)
    expect(stored).toHaveLength(1)
    // --json prints exactly the record that was stored.
    expect(created.json).toEqual(stored[0])
    expect(stored[0]).toMatchObject({
      engagement_id: id,
      name: 'Acme FY26 SOC 2',
      client_id: 'acme',
      firm_id: 'firm-1',
      source_bucket: '',
      findings_key: `auditforge/engagements/${id}/findings.json`,
      audit_log_key: `auditforge/engagements/${id}/audit_log/`,
    })
    expect(stored[0].created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/)
    expect(Math.abs(Date.parse(stored[0].created_at) - Date.now())).toBeLessThan(120_000)

    const event = firstEvent(await getText(s3, shared, auditShardKey(id)))
    expect(event.event).toBe('engagement.created')
    expect(event.engagement_id).toBe(id)
    expect(event.actor).toBe(await callerArn())
    expect(event.actor).toContain(motoAccountId)
    // No per-engagement bucket was made for it.
    expect(await bucketExists(s3, expectedBucketName(id))).toBe(false)
  })

  it('--isolated provisions the bucket and writes the first event there', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const created = await runJson<EngagementRecord>([
      'engagement',
      'create',
      '--name',
      'Isolated',
      '--isolated',
      '--tag',
      'cost-center=audit',
      '--shared-bucket',
      shared,
    ])
    expect(created.code, created.stderr).toBe(0)
    const id = created.json.engagement_id
    const bucket = expectedBucketName(id)
    expect(created.json.source_bucket).toBe(bucket)
    expect(recordsOf((await readIndex(s3, shared)).json)).toEqual([created.json])
    expect(await bucketExists(s3, bucket)).toBe(true)

    const event = firstEvent(await getText(s3, bucket, auditShardKey(id)))
    expect(event).toMatchObject({event: 'engagement.created', engagement_id: id, actor: await callerArn()})
    expect(await objectExists(s3, shared, auditShardKey(id))).toBe(false)
  })

  it('AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET=YES isolates; --no-isolated overrides it', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const env = {AUDITFORGE_BUCKET: shared, AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET: 'YES'}
    const [isolated, notIsolated] = await Promise.all([
      runJson<EngagementRecord>(['engagement', 'create', '--name', 'From env'], {env}),
      runJson<EngagementRecord>(['engagement', 'create', '--name', 'Overridden', '--no-isolated'], {env}),
    ])
    expect(isolated.code, isolated.stderr).toBe(0)
    expect(notIsolated.code, notIsolated.stderr).toBe(0)

    const isolatedBucket = expectedBucketName(isolated.json.engagement_id)
    expect(isolated.json.source_bucket).toBe(isolatedBucket)
    expect(await bucketExists(s3, isolatedBucket)).toBe(true)
    expect(await objectExists(s3, isolatedBucket, auditShardKey(isolated.json.engagement_id))).toBe(true)

    expect(notIsolated.json.source_bucket).toBe('')
    expect(await bucketExists(s3, expectedBucketName(notIsolated.json.engagement_id))).toBe(false)
    expect(await objectExists(s3, shared, auditShardKey(notIsolated.json.engagement_id))).toBe(true)

    const stored = recordsOf((await readIndex(s3, shared)).json)
    expect(stored.map((record) => record.engagement_id).sort()).toEqual(
      [isolated.json.engagement_id, notIsolated.json.engagement_id].sort(),
    )
  })

  it('a corrupt index fails the create with exit 1 and leaves the stored object unchanged', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const corrupt = '{"engagements": [ {"engagement_id": "eng-aaa", '
    const written = await putRaw(s3, shared, indexKey, corrupt, 'application/json')

    const result = await runCli(['engagement', 'create', '--name', 'Will fail', '--shared-bucket', shared])
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/engagements\.json/)
    expect(result.stderr).toMatch(/not valid|corrupt|not JSON/i)
    expect(result.stderr).not.toMatch(/^\s+at /m)

    const after = await readIndex(s3, shared)
    expect(after.text).toBe(corrupt)
    expect(after.etag).toBe(written.ETag)
    expect(after.versionId).toBe(written.VersionId)
  })

  it('rolls back the fresh bucket when the record cannot be written', async () => {
    const s3 = testS3()
    // A prefix only this test uses, so buckets other test files create meanwhile cannot blur the result.
    const prefix = `metis-af-${randomBytes(3).toString('hex')}-`
    const control = await createSharedBucket(s3)
    const broken = await createSharedBucket(s3)
    const corrupt = 'not json at all'
    const written = await putRaw(s3, broken, indexKey, corrupt, 'application/json')
    const before = new Set((await listBucketNames(s3)).filter((name) => name.startsWith('metis-af-')))

    // Control: with this prefix and a healthy index, an isolated create does make a bucket.
    const ok = await runJson<EngagementRecord>(
      ['engagement', 'create', '--name', 'Control', '--isolated', '--shared-bucket', control],
      {
        env: {AUDITFORGE_BUCKET_PREFIX: prefix},
      },
    )
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.json.source_bucket).toBe(expectedBucketName(ok.json.engagement_id, prefix))

    const failed = await runCli(
      ['engagement', 'create', '--name', 'Rolled back', '--isolated', '--shared-bucket', broken],
      {
        env: {AUDITFORGE_BUCKET_PREFIX: prefix},
      },
    )
    expect(failed.code).toBe(1)
    expect(failed.stdout).toBe('')

    const after = await readIndex(s3, broken)
    expect(after.text).toBe(corrupt)
    expect(after.etag).toBe(written.ETag)
    expect(after.versionId).toBe(written.VersionId)

    const added = (await listBucketNames(s3)).filter((name) => name.startsWith('metis-af-') && !before.has(name))
    // The only new bucket of this prefix is the control's; the rolled-back one is gone.
    expect(added.filter((name) => name.startsWith(prefix))).toEqual([ok.json.source_bucket])
  })

  it('six creates at once against one shared bucket all land in the index', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const results = await Promise.all(
      Array.from({length: 6}, (_, i) =>
        runJson<EngagementRecord>(['engagement', 'create', '--name', `Parallel ${i}`, '--shared-bucket', shared]),
      ),
    )
    for (const result of results) expect(result.code, result.stderr).toBe(0)
    const ids = results.map((result) => result.json.engagement_id)
    expect(new Set(ids).size).toBe(6)
    const stored = recordsOf((await readIndex(s3, shared)).json)
    expect(stored.map((record) => record.engagement_id).sort()).toEqual([...ids].sort())
    expect(stored.map((record) => record.name).sort()).toEqual(Array.from({length: 6}, (_, i) => `Parallel ${i}`))
  })
})

describe('unknown fields and the shape of the index', () => {
  it('keeps extra top-level and record fields through create and delete', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const original = {
      schema_version: 3,
      generated_by: 'platform-app',
      settings: {retention_days: 2555, regions: ['us-east-1']},
      engagements: [
        seedRecord('eng-platform1', {
          platform_status: 'fieldwork',
          reviewers: ['a@example.com'],
          extra: {nested: true},
        }),
        seedRecord('eng-platform2', {firm_id: 'firm-9', legacy_flag: null}),
      ],
    }
    await putIndex(s3, shared, original)

    const created = await runJson<EngagementRecord>([
      'engagement',
      'create',
      '--name',
      'New one',
      '--shared-bucket',
      shared,
    ])
    expect(created.code, created.stderr).toBe(0)
    const middle = (await readIndex(s3, shared)).json as Record<string, unknown>
    expect(Object.keys(middle).sort()).toEqual(Object.keys(original).sort())
    expect(middle.schema_version).toBe(3)
    expect(middle.generated_by).toBe('platform-app')
    expect(middle.settings).toEqual(original.settings)
    expect(middle.engagements).toEqual([...original.engagements, created.json])

    const shown = await runJson<Record<string, unknown>>([
      'engagement',
      'show',
      'eng-platform1',
      '--shared-bucket',
      shared,
    ])
    expect(shown.code).toBe(0)
    expect(shown.json).toEqual(original.engagements[0])

    const deleted = await runCli([
      'engagement',
      'delete',
      created.json.engagement_id,
      '--yes',
      '--shared-bucket',
      shared,
    ])
    expect(deleted.code, deleted.stderr).toBe(0)
    expect((await readIndex(s3, shared)).json).toEqual(original)
  })

  it('keeps a top-level array index an array', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const original = [seedRecord('eng-arr1', {platform_only: 'kept'}), seedRecord('eng-arr2')]
    await putIndex(s3, shared, original)

    const created = await runJson<EngagementRecord>([
      'engagement',
      'create',
      '--name',
      'Array',
      '--shared-bucket',
      shared,
    ])
    expect(created.code, created.stderr).toBe(0)
    const middle = (await readIndex(s3, shared)).json
    expect(Array.isArray(middle)).toBe(true)
    expect(middle).toEqual([...original, created.json])

    const deleted = await runCli([
      'engagement',
      'delete',
      created.json.engagement_id,
      '--yes',
      '--keep-data',
      '--shared-bucket',
      shared,
    ])
    expect(deleted.code, deleted.stderr).toBe(0)
    expect((await readIndex(s3, shared)).json).toEqual(original)
  })
})

describe('engagement list and show', () => {
  it('shows the index as a table and as JSON', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const isolatedId = 'eng-0a1b2c3d4e5f'
    const records = [
      seedRecord('eng-listone', {name: 'First engagement', created_at: '2024-05-06T07:08:09Z'}),
      seedRecord(isolatedId, {
        name: 'Second engagement',
        source_bucket: expectedBucketName(isolatedId),
        platform_note: 'kept',
      }),
    ]
    await putIndex(s3, shared, {engagements: records})
    const env = {AUDITFORGE_BUCKET: shared}

    const [listJson, listTable, showJson, showTable] = await Promise.all([
      runJson<{engagements: unknown[]}>(['engagement', 'list'], {env}),
      runCli(['engagement', 'list'], {env}),
      runJson<unknown>(['engagement', 'show', isolatedId], {env}),
      runCli(['engagement', 'show', isolatedId], {env}),
    ])

    expect(listJson.code).toBe(0)
    expect(listJson.json).toEqual({engagements: records})

    expect(listTable.code).toBe(0)
    const rows = listTable.stdout.split('\n')
    const first = rows.find((row) => row.includes('eng-listone'))
    const second = rows.find((row) => row.includes(isolatedId))
    expect(first).toMatch(/First engagement/)
    expect(first).toMatch(/\bshared\b/)
    expect(first).toMatch(/2024-05-06/)
    expect(second).toMatch(/Second engagement/)
    expect(second).toContain(expectedBucketName(isolatedId))

    expect(showJson.code).toBe(0)
    expect(showJson.json).toEqual(records[1])
    expect(showTable.code).toBe(0)
    expect(showTable.stdout).toContain('Second engagement')
    expect(showTable.stdout).toContain('platform_note')
    expect(showTable.stdout).toContain(expectedBucketName(isolatedId))
  })

  it('an empty or missing index lists no engagements', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const listed = await runJson<{engagements: unknown[]}>(['engagement', 'list', '--shared-bucket', shared])
    expect(listed.code).toBe(0)
    expect(listed.json).toEqual({engagements: []})
  })

  it('an unknown engagement is exit 3', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    await putIndex(s3, shared, {engagements: [seedRecord('eng-known')]})
    const result = await runCli(['engagement', 'show', 'eng-unknown', '--shared-bucket', shared])
    expect(result.code).toBe(3)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('eng-unknown')
  })

  it('a bad id is exit 2 with nothing on stdout', async () => {
    for (const id of ['../x', 'ENG-1']) {
      const result = await runCli(['engagement', 'show', id, '--shared-bucket', 'does-not-matter'])
      expect(result.code, id).toBe(2)
      expect(result.stdout, id).toBe('')
      expect(result.stderr, id).toMatch(/engagement id/i)
    }
  })

  it('a missing shared bucket is exit 2 with a one-line message', async () => {
    const result = await runCli(['engagement', 'list'], {env: {AUDITFORGE_BUCKET: undefined}})
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    const lines = result.stderr.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^Error: .*shared.*bucket/i)
    expect(result.stderr).toMatch(/AUDITFORGE_BUCKET/)
    // The error itself is one line (a hint may follow); no stack trace.
    expect(lines.length).toBeLessThanOrEqual(2)
    expect(result.stderr).not.toMatch(/^\s+at /m)

    const json = await runJson<{error: {message: string; exit: number}}>(['engagement', 'list'])
    expect(json.code).toBe(2)
    expect(json.json.error.exit).toBe(2)
    expect(json.json.error.message).not.toContain('\n')
  })
})
