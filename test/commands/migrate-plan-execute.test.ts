/**
 * `auditforge migrate` end to end on moto: the built CLI as a subprocess, state checked with the
 * SDK (never through the CLI's own view). Dry-run output and its "nothing mutated" promise,
 * --execute on more than one listing page, exact ownership between engagements whose ids share
 * a prefix, the --json shape, the already-migrated no-op, and the exit codes of bad input.
 */
import {randomBytes} from 'node:crypto'

import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  type ListObjectVersionsCommandOutput,
  PutObjectCommand,
  type S3Client,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3'
import pLimit from 'p-limit'
import {beforeAll, describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import type {MigrateJson} from '../helpers/migrate.js'
import {createSharedBucket, getText, motoAccountId, putText, testS3} from '../helpers/s3.js'

interface Seeded {
  key: string
  body: string
  contentType?: string
  metadata?: Record<string, string>
  tagging?: string
}

const indexKey = 'auditforge/engagements.json'
let s3: S3Client

beforeAll(() => {
  s3 = testS3()
})

const newId = () => `eng-${randomBytes(6).toString('hex')}`
const targetOf = (id: string) => `metis-af-${id.slice('eng-'.length)}-${motoAccountId}`

function record(id: string, sourceBucket = '') {
  return {
    engagement_id: id,
    name: `Engagement ${id}`,
    client_id: 'client-1',
    created_at: '2026-01-01T00:00:00Z',
    source_bucket: sourceBucket,
    findings_key: `auditforge/engagements/${id}/findings.json`,
    audit_log_key: `auditforge/engagements/${id}/audit_log/`,
    platform_field: {kept: true},
  }
}

async function writeIndex(bucket: string, records: ReturnType<typeof record>[]): Promise<void> {
  await putText(s3, bucket, indexKey, JSON.stringify({version: 3, engagements: records}, null, 2), 'application/json')
}

async function readIndex(bucket: string): Promise<{version: number; engagements: ReturnType<typeof record>[]}> {
  return JSON.parse(await getText(s3, bucket, indexKey))
}

async function seed(bucket: string, objects: Seeded[]): Promise<void> {
  const limit = pLimit(32)
  await Promise.all(
    objects.map((object) =>
      limit(() =>
        s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: object.key,
            Body: object.body,
            ContentType: object.contentType ?? 'text/plain',
            Metadata: object.metadata,
            Tagging: object.tagging,
          }),
        ),
      ),
    ),
  )
}

/** Current objects of a bucket: key → size and ETag. */
async function listing(bucket: string): Promise<Map<string, {size: number; etag: string}>> {
  const objects = new Map<string, {size: number; etag: string}>()
  for await (const page of paginateListObjectsV2({client: s3}, {Bucket: bucket})) {
    for (const object of page.Contents ?? []) {
      // The migration's evidence lives under its reserved prefix; it is not engagement data.
      if (!object.Key!.startsWith('auditforge/migrations/'))
        objects.set(object.Key!, {size: object.Size!, etag: object.ETag!})
    }
  }
  return objects
}

/** Every version and delete marker, as "key@versionId" strings, sorted. */
async function versions(bucket: string): Promise<string[]> {
  const all: string[] = []
  let page: ListObjectVersionsCommandOutput | undefined
  do {
    page = await s3.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        KeyMarker: page?.NextKeyMarker,
        VersionIdMarker: page?.NextVersionIdMarker,
      }),
    )
    for (const version of page.Versions ?? []) all.push(`${version.Key}@${version.VersionId}`)
    for (const marker of page.DeleteMarkers ?? []) all.push(`${marker.Key}@${marker.VersionId} (delete marker)`)
  } while (page.IsTruncated)
  return all.sort()
}

async function bucketExists(bucket: string): Promise<boolean> {
  try {
    await s3.send(new HeadBucketCommand({Bucket: bucket}))
    return true
  } catch {
    return false
  }
}

/** An engagement's typical objects in the shared bucket, bodies of the given size. */
function typicalObjects(id: string, bodySize = 100): Seeded[] {
  const body = (key: string) => `${key}\n`.padEnd(bodySize, 'x')
  return [
    `auditforge/engagements/${id}/findings.json`,
    `auditforge/engagements/${id}/audit_log/shard-00000.jsonl`,
    `auditforge/engagements/${id}/source/contract.pdf`,
    `auditforge/engagements/${id}/index/chunks/0001.json`,
    `auditforge/audit_logs/${id}/legacy-0001.jsonl`,
    `auditforge/deliverables/${id}.json`,
    `auditforge/deliverables/${id}.md`,
    `auditforge/deliverables/${id}-methodology.md`,
    `auditforge/exports/${id}-20260101T120000Z.jsonl`,
  ].map((key) => ({key, body: body(key)}))
}

/** Data nobody's migration may touch: tenant corpus, firm branding. */
const foreignObjects: Seeded[] = [
  {key: 'client-1/index/corpus/doc-1.json', body: '{"tenant": 1}'},
  {key: 'client-2/index/vectors.bin', body: 'vectors'},
  {key: 'auditforge/firms.json', body: '{"firms": []}'},
]

const migrate = (bucket: string, ...args: string[]) => ['migrate', '--shared-bucket', bucket, ...args]
const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(2)

/** The fields of a migrated engagement's outcome that do not apply to a clean local run: null, never missing. */
const notApplicable = {
  differences: null,
  unlisted_differences: null,
  error: null,
  error_code: null,
  late_write_conflicts: null,
  deep_checks: null,
  batch: null,
}

describe('migrate (dry run)', () => {
  it('prints the plan table on stdout and mutates nothing', async () => {
    const bucket = await createSharedBucket(s3, 'mig-plan')
    const a = newId()
    const b = newId()
    const done = newId()
    const aObjects = [
      ...typicalObjects(a, 200),
      {key: `auditforge/engagements/${a}/source/big.bin`, body: 'b'.repeat(700_000)},
    ]
    const bObjects = typicalObjects(b, 50)
    await writeIndex(bucket, [record(a), record(b), record(done, targetOf(done))])
    await seed(bucket, [...aObjects, ...bObjects, ...typicalObjects(done), ...foreignObjects])
    const before = await versions(bucket)

    const result = await runCli(migrate(bucket))

    expect(result.code).toBe(0)
    const lines = result.stdout.split('\n')
    expect(lines[0]).toBe(`Source bucket: ${bucket}`)
    expect(result.stdout).toMatch(/^Engagement\s+Target bucket\s+Objs\s+MiB$/m)
    const bytes = (objects: Seeded[]) => objects.reduce((sum, object) => sum + Buffer.byteLength(object.body), 0)
    const row = (id: string, objects: Seeded[]) =>
      new RegExp(`^${id}\\s+${targetOf(id)}\\s+${objects.length}\\s+${mb(bytes(objects)).replace('.', '\\.')}$`, 'm')
    expect(result.stdout).toMatch(row(a, aObjects))
    expect(result.stdout).toMatch(row(b, bObjects))
    const total = aObjects.length + bObjects.length
    expect(result.stdout).toContain(
      `Total: 2 engagements, ${total} objects, ${mb(bytes(aObjects) + bytes(bObjects))} MiB`,
    )
    // Only data on stdout; the dry-run notice goes to stderr.
    expect(result.stdout).not.toMatch(/Dry run/)
    expect(result.stderr).toMatch(/Dry run/)

    const json = await runJson<MigrateJson>(migrate(bucket))
    expect(json.code).toBe(0)
    expect(json.json.mode).toBe('plan')
    expect(json.json.status).toBe('ok')
    expect(json.json.source_bucket).toBe(bucket)
    const planned = json.json.engagements.filter((outcome) => outcome.status === 'planned')
    expect(planned.map((outcome) => outcome.engagement_id).sort()).toEqual([a, b].sort())
    expect(planned.find((outcome) => outcome.engagement_id === a)).toMatchObject({
      target_bucket: targetOf(a),
      objects: aObjects.length,
      bytes: bytes(aObjects),
      copied: 0,
      skipped_existing: 0,
    })
    expect(json.json.totals).toMatchObject({engagements: 2, objects: total, bytes: bytes(aObjects) + bytes(bObjects)})

    // Nothing mutated: no bucket created, no version added anywhere in the shared bucket.
    for (const id of [a, b]) expect(await bucketExists(targetOf(id))).toBe(false)
    expect(await versions(bucket)).toEqual(before)
  })
})

describe('migrate --execute', () => {
  it(
    'migrates an engagement of more than 1000 objects: every key, size, content type, metadata and tag; the source untouched',
    {timeout: 150_000},
    async () => {
      const bucket = await createSharedBucket(s3, 'mig-big')
      const id = newId()
      const objects: Seeded[] = []
      for (let i = 0; i < 1000; i++) {
        const key = `auditforge/engagements/${id}/index/chunks/${String(i).padStart(5, '0')}.json`
        objects.push({key, body: `{"chunk": ${i}, "pad": "${'p'.repeat(i % 97)}"}`, contentType: 'application/json'})
      }
      // Some with user metadata and tags, some with names that need encoding in CopySource.
      for (let i = 0; i < 10; i++) {
        objects.push({
          key: `auditforge/engagements/${id}/source/doc ${i}.pdf`,
          body: `%PDF-${i}`.repeat(50 + i),
          contentType: 'application/pdf',
          metadata: {'uploaded-by': `user-${i}`, pages: String(i + 1)},
          tagging: `classification=confidential&doc=${i}`,
        })
      }
      const odd = ['a+b.txt', '100% done.txt', 'naïve résumé 文件.txt', 'q?x=1&y#z.txt', "it's (1).txt"]
      for (const name of odd)
        objects.push({
          key: `auditforge/engagements/${id}/source/${name}`,
          body: `bytes of ${name}`,
          contentType: 'text/plain; charset=utf-8',
        })
      objects.push({
        key: `auditforge/deliverables/${id}.docx`,
        body: 'docx',
        contentType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      })
      await writeIndex(bucket, [record(id)])
      await seed(bucket, [...objects, ...foreignObjects])
      const sourceBefore = (await versions(bucket)).filter((entry) => !entry.startsWith(`${indexKey}@`))
      const sourceListing = await listing(bucket)

      const result = await runJson<MigrateJson>(migrate(bucket, '--execute', '--yes', '--concurrency', '32'), {
        timeout: 140_000,
      })

      expect(result.code, result.stderr).toBe(0)
      const target = targetOf(id)
      expect(result.json.engagements).toEqual([
        {
          engagement_id: id,
          target_bucket: target,
          objects: objects.length,
          bytes: objects.reduce((sum, o) => sum + Buffer.byteLength(o.body), 0),
          status: 'migrated',
          copied: objects.length,
          skipped_existing: 0,
          run_id: expect.any(String),
          late_writes: 0,
          // moto is plain http: the TLS-only policy would deny every request, so it is skipped, and said.
          skipped_controls: [{control: 'tls-only', reason: expect.stringContaining('plain-http')}],
          // Every field of the contract is present; what does not apply to this run is null.
          ...notApplicable,
        },
      ])
      const landed = await listing(target)
      expect([...landed.keys()].sort()).toEqual(objects.map((object) => object.key).sort())
      for (const object of objects) {
        expect(landed.get(object.key)!.size).toBe(sourceListing.get(object.key)!.size)
        expect(landed.get(object.key)!.etag).toBe(sourceListing.get(object.key)!.etag)
      }
      // Content type, user metadata and tags: every object that has them, plus a sample of the rest.
      const checked = objects.filter(
        (object, i) => object.metadata || object.tagging || !object.key.includes('/chunks/') || i % 97 === 0,
      )
      const limit = pLimit(16)
      await Promise.all(
        checked.map((object) =>
          limit(async () => {
            const head = await s3.send(new HeadObjectCommand({Bucket: target, Key: object.key}))
            expect(head.ContentType).toBe(object.contentType)
            expect(head.Metadata ?? {}).toEqual(object.metadata ?? {})
            const tags = await s3.send(new GetObjectTaggingCommand({Bucket: target, Key: object.key}))
            const expectedTags = object.tagging ? Object.fromEntries(new URLSearchParams(object.tagging)) : {}
            expect(Object.fromEntries((tags.TagSet ?? []).map((tag) => [tag.Key, tag.Value]))).toEqual(expectedTags)
          }),
        ),
      )
      for (const name of odd) {
        const key = `auditforge/engagements/${id}/source/${name}`
        const reply = await s3.send(new GetObjectCommand({Bucket: target, Key: key}))
        expect(await reply.Body!.transformToString('utf8')).toBe(`bytes of ${name}`)
      }

      const index = await readIndex(bucket)
      expect(index.version).toBe(3)
      expect(index.engagements).toEqual([{...record(id), source_bucket: target}])
      // Nothing but the index and the run's lease (released: only its versions and delete marker remain) changed there.
      const leaseKey = `auditforge/leases/migrate-${id}.json`
      expect(
        (await versions(bucket)).filter(
          (entry) => !entry.startsWith(`${indexKey}@`) && !entry.startsWith(`${leaseKey}@`),
        ),
      ).toEqual(sourceBefore)
      await expect(s3.send(new HeadObjectCommand({Bucket: bucket, Key: leaseKey}))).rejects.toMatchObject({
        $metadata: {httpStatusCode: 404},
      })
      for (const foreign of foreignObjects) expect(landed.has(foreign.key)).toBe(false)
    },
  )

  it('gives each engagement exactly its own keys when ids share a prefix, and reports the --json shape', async () => {
    const bucket = await createSharedBucket(s3, 'mig-own')
    const short = newId()
    const long = `${short}d`
    const shortObjects = typicalObjects(short)
    const longObjects = typicalObjects(long)
    const decoys: Seeded[] = [
      {key: `auditforge/deliverables/${short}-notes.txt`, body: 'not a deliverable name of either'},
      {key: `auditforge/exports/${short}-latest.jsonl`, body: 'not an export name'},
      {key: `auditforge/engagements/${short}x/findings.json`, body: 'an engagement that is not in the index'},
    ]
    await writeIndex(bucket, [record(short), record(long)])
    await seed(bucket, [...shortObjects, ...longObjects, ...decoys, ...foreignObjects])

    const result = await runJson<MigrateJson>(migrate(bucket, '--execute', '--yes'))

    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toBe('') // --json: no progress, no notes
    expect(await listing(targetOf(short)).then((objects) => [...objects.keys()].sort())).toEqual(
      shortObjects.map((object) => object.key).sort(),
    )
    expect(await listing(targetOf(long)).then((objects) => [...objects.keys()].sort())).toEqual(
      longObjects.map((object) => object.key).sort(),
    )

    // The --json document: one entry per engagement with the documented fields, and totals.
    expect(result.json).toMatchObject({source_bucket: bucket, status: 'ok', mode: 'execute', error: null})
    const byId = Object.fromEntries(result.json.engagements.map((outcome) => [outcome.engagement_id, outcome]))
    expect(Object.keys(byId).sort()).toEqual([short, long].sort())
    const bytes = (objects: Seeded[]) => objects.reduce((sum, object) => sum + Buffer.byteLength(object.body), 0)
    for (const [id, objects] of [
      [short, shortObjects],
      [long, longObjects],
    ] as const) {
      expect(byId[id]).toEqual({
        engagement_id: id,
        target_bucket: targetOf(id),
        objects: objects.length,
        bytes: bytes(objects),
        status: 'migrated',
        copied: objects.length,
        skipped_existing: 0,
        run_id: expect.stringMatching(/^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6}$/),
        late_writes: 0,
        skipped_controls: [{control: 'tls-only', reason: expect.stringContaining('plain-http')}],
        ...notApplicable,
      })
    }
    expect(result.json.totals).toEqual({
      engagements: 2,
      objects: shortObjects.length + longObjects.length,
      bytes: bytes(shortObjects) + bytes(longObjects),
      copied: shortObjects.length + longObjects.length,
      skipped_existing: 0,
    })
    const index = await readIndex(bucket)
    expect(Object.fromEntries(index.engagements.map((entry) => [entry.engagement_id, entry.source_bucket]))).toEqual({
      [short]: targetOf(short),
      [long]: targetOf(long),
    })
  })

  it('leaves an already migrated engagement alone', async () => {
    const bucket = await createSharedBucket(s3, 'mig-again')
    const id = newId()
    await writeIndex(bucket, [record(id)])
    await seed(bucket, typicalObjects(id))
    const first = await runJson<MigrateJson>(migrate(bucket, '--engagement-id', id, '--execute', '--yes'))
    expect(first.code, first.stderr).toBe(0)
    expect(first.json.engagements[0].status).toBe('migrated')
    const targetBefore = await versions(targetOf(id))
    const sharedBefore = await versions(bucket)

    const again = await runJson<MigrateJson>(migrate(bucket, '--engagement-id', id, '--execute', '--yes'))

    expect(again.code, again.stderr).toBe(0)
    expect(again.json.engagements).toEqual([
      expect.objectContaining({engagement_id: id, status: 'already_migrated', copied: 0, target_bucket: targetOf(id)}),
    ])
    expect(again.json.totals).toMatchObject({engagements: 0, copied: 0})
    expect(await versions(targetOf(id))).toEqual(targetBefore)
    expect(await versions(bucket)).toEqual(sharedBefore)

    // Without --engagement-id the run finds nothing to migrate either.
    const all = await runJson<MigrateJson>(migrate(bucket, '--execute', '--yes'))
    expect(all.code).toBe(0)
    expect(all.json.engagements).toEqual([])
    expect(await versions(targetOf(id))).toEqual(targetBefore)
  })
})

describe('migrate: refusals and bad input', () => {
  it('exits 2 for a bad id or concurrency, 3 for an unknown engagement, 5 for --execute without --yes; nothing mutated', async () => {
    const bucket = await createSharedBucket(s3, 'mig-bad')
    const id = newId()
    await writeIndex(bucket, [record(id)])
    await seed(bucket, typicalObjects(id))
    const before = await versions(bucket)

    // Independent runs against the same (unchanging) state: run them side by side.
    const [badId, badIdJson, unknown, noYes, noYesJson, ...concurrency] = await Promise.all([
      runCli(migrate(bucket, '--engagement-id', 'ENG-1/../x')),
      runJson<{error: {code: string; exit: number}}>(migrate(bucket, '--engagement-id', 'eng-')),
      runCli(migrate(bucket, '--engagement-id', newId())),
      runCli(migrate(bucket, '--execute')),
      runJson<{error: {code: string; exit: number}}>(migrate(bucket, '--execute', '--engagement-id', id)),
      ...['0', 'abc', '-3'].map((value) => runCli(migrate(bucket, '--concurrency', value))),
    ])

    expect(badId.code).toBe(2)
    expect(badId.stdout).toBe('')
    expect(badId.stderr).toMatch(/Invalid engagement id/)
    expect(badIdJson.code).toBe(2)
    expect(badIdJson.json.error).toMatchObject({code: 'invalid_input', exit: 2})
    for (const result of concurrency) {
      expect(result.code, result.stderr).toBe(2)
      expect(result.stdout).toBe('')
    }
    expect(unknown.code).toBe(3)
    expect(unknown.stderr).toMatch(/No engagement eng-[0-9a-f]{12}/)
    expect(noYes.code).toBe(5)
    expect(noYes.stderr).toMatch(/--yes/)
    expect(noYesJson.code).toBe(5)
    expect(noYesJson.json.error.exit).toBe(5)

    expect(await bucketExists(targetOf(id))).toBe(false)
    expect(await versions(bucket)).toEqual(before)
    expect((await readIndex(bucket)).engagements[0].source_bucket).toBe('')
  })

  it('documents its flags and examples in --help', async () => {
    const [main, rollback] = await Promise.all([
      runCli(['migrate', '--help']),
      runCli(['migrate', 'rollback', '--help']),
    ])
    expect(main.code).toBe(0)
    for (const flag of [
      '--engagement-id',
      '--execute',
      '--yes',
      '--verify-only',
      '--concurrency',
      '--json',
      '--shared-bucket',
    ])
      expect(main.stdout).toContain(flag)
    expect(main.stdout).toMatch(/EXAMPLES[\s\S]*migrate --engagement-id eng-[0-9a-f]+ --execute/)
    expect(rollback.code).toBe(0)
    for (const flag of ['--engagement-id', '--yes', '--json']) expect(rollback.stdout).toContain(flag)
  })

  it('reports a shared bucket that does not exist with exit 0 and status no_such_bucket', async () => {
    const missing = `mig-missing-${randomBytes(4).toString('hex')}`

    const json = await runJson<MigrateJson>(migrate(missing))
    expect(json.code).toBe(0)
    expect(json.json).toMatchObject({source_bucket: missing, status: 'no_such_bucket', engagements: []})

    const execute = await runJson<MigrateJson>(migrate(missing, '--execute', '--yes'))
    expect(execute.code).toBe(0)
    expect(execute.json.status).toBe('no_such_bucket')

    const plain = await runCli(migrate(missing, '--execute', '--yes'))
    expect(plain.code).toBe(0)
    expect(plain.stdout).toBe('')
    expect(plain.stderr).toMatch(new RegExp(`${missing}.*does not exist`))
    expect(plain.stderr).toMatch(/nothing was changed/)
    expect(await bucketExists(missing)).toBe(false)
  })
})
