/**
 * `auditforge migrate --execute --engine batch` end to end: the built CLI as a subprocess against
 * moto and the loopback S3 Batch Operations job service (test/fixtures/batch-job-service.ts),
 * state checked with the SDK straight from moto and with the service's own record of its jobs.
 * The same data migrated by both engines gives byte-identical targets and equivalent evidence;
 * keys that need encoding survive the manifest; failed tasks are retried locally (and reported by
 * key when that fails too); a run killed while its job runs re-attaches to it; a suspended and a
 * failed job stop the run with the job's id and leave the record alone; bad flags exit 2 first.
 */
import {spawn} from 'node:child_process'
import {createHash} from 'node:crypto'

import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutObjectCommand,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3'
import {S3ControlClient, UpdateJobStatusCommand} from '@aws-sdk/client-s3-control'
import pLimit from 'p-limit'
import {describe, expect, inject, it} from 'vitest'

import type {EngagementRecord} from '../../src/lib/engagement-index.js'
import type {BatchRolePolicies} from '../../src/lib/migrate/batch/policy.js'
import type {EvidenceLine} from '../../src/lib/migrate/evidence.js'
import {batchJobService} from '../fixtures/batch-job-service.js'
import {baseEnv, binPath, runCli, runJson} from '../helpers/cli.js'
import {
  countByKey,
  expectedBucketName,
  listAllVersions,
  putIndex,
  randomEngagementId,
  readIndex,
  recordsOf,
  seedRecord,
} from '../helpers/commands.js'
import {useFaultProxy} from '../helpers/faults.js'
import type {MigrateJson, Outcome} from '../helpers/migrate.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

const s3 = testS3()
const service = batchJobService(inject('batchEndpoint'))
const proxied = useFaultProxy()
const role = 'arn:aws:iam::123456789012:role/auditforge-batch'
const batch = ['--engine', 'batch', '--role-arn', role]

interface BatchOutcome extends Outcome {
  batch?: {
    job_id: string | null
    reattached: boolean
    tasks: number
    succeeded: number
    failed: number
    retried_locally: number
    copied_locally: number
  }
  error?: string
}

/** Relative names (after the engagement's own part) of the objects every seeded engagement gets. */
const awkwardNames = [
  'with space.txt',
  'plus+sign.txt',
  'percent%41.txt',
  'comma,name.csv',
  'double"quote.txt',
  "single'quote.txt",
  'ünïcödé-✓.txt',
  'hash#and?amp&.txt',
]

interface Seeded {
  key: string
  body: string
  contentType: string
  metadata?: Record<string, string>
  tagging?: string
}

/** One engagement's objects: findings, audit-log shards, awkward source names, a deliverable; bodies depend only on the relative name. */
function objectsOf(id: string, shards = 6): Seeded[] {
  const relative = [
    ...Array.from({length: shards}, (_, i) => `engagements/${id}/audit_log/shard-${String(i).padStart(5, '0')}.jsonl`),
    `engagements/${id}/findings.json`,
    ...awkwardNames.map((name) => `engagements/${id}/source/${name}`),
    `deliverables/${id}.md`,
  ]
  return relative.map((name, i) => {
    const stable = name.replace(id, 'ENG')
    return {
      key: `auditforge/${name}`,
      body: `${stable}\n`.repeat(1 + (i % 5)),
      contentType: name.endsWith('.json') ? 'application/json' : 'text/plain; charset=utf-8',
      ...(i % 3 === 0 ? {metadata: {origin: 'platform', index: String(i)}} : {}),
      ...(i % 4 === 0 ? {tagging: `class=confidential&n=${i}`} : {}),
    }
  })
}

/** A versioned shared bucket holding engagements with `objectsOf` each; returns the bucket and the ids. */
async function seedShared(stem: string, count: number, shards?: number): Promise<{bucket: string; ids: string[]}> {
  const bucket = await createSharedBucket(s3, stem)
  const ids = Array.from({length: count}, () => randomEngagementId())
  await putIndex(s3, bucket, {engagements: ids.map((id) => seedRecord(id))})
  const limit = pLimit(16)
  await Promise.all(
    ids.flatMap((id) =>
      objectsOf(id, shards).map((object) =>
        limit(() =>
          s3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: object.key,
              Body: object.body,
              ContentType: object.contentType,
              Metadata: object.metadata,
              Tagging: object.tagging,
            }),
          ),
        ),
      ),
    ),
  )
  return {bucket, ids}
}

const migrate = (bucket: string, ...args: string[]) => ['migrate', '--shared-bucket', bucket, ...args]

async function recordOf(bucket: string, id: string): Promise<EngagementRecord> {
  return recordsOf((await readIndex(s3, bucket)).json).find((record) => record.engagement_id === id)!
}

async function keysOf(bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = []
  for await (const page of paginateListObjectsV2({client: s3}, {Bucket: bucket, Prefix: prefix}))
    for (const object of page.Contents ?? []) keys.push(object.Key!)
  return keys.sort()
}

/** Everything a reader of the object sees: bytes (as SHA-256), content type, metadata, tags, storage class. */
async function objectState(bucket: string, key: string) {
  const got = await s3.send(new GetObjectCommand({Bucket: bucket, Key: key}))
  const bytes = Buffer.from(await got.Body!.transformToByteArray())
  const tags = await s3.send(new GetObjectTaggingCommand({Bucket: bucket, Key: key}))
  return {
    sha256: createHash('sha256').update(bytes).digest('hex'),
    contentType: got.ContentType,
    metadata: got.Metadata,
    tags: (tags.TagSet ?? []).map((tag) => `${tag.Key}=${tag.Value}`).sort(),
    storageClass: got.StorageClass ?? 'STANDARD',
  }
}

/** The engagement's evidence lines, every run's chunks, read straight from moto. */
async function evidenceLines(target: string, id: string): Promise<EvidenceLine[]> {
  const lines: EvidenceLine[] = []
  for (const key of await keysOf(target, `auditforge/migrations/${id}/`)) {
    if (!key.endsWith('.jsonl')) continue
    const got = await s3.send(new GetObjectCommand({Bucket: target, Key: key}))
    for (const text of (await got.Body!.transformToString('utf8')).split('\n'))
      if (text.trim()) lines.push(JSON.parse(text) as EvidenceLine)
  }
  return lines
}

/** Every engagement key in the target holds exactly one version (nothing was copied twice). */
async function expectOneVersionEach(target: string, id: string, keys: string[]): Promise<void> {
  const versions = countByKey(
    (await listAllVersions(s3, target)).filter((version) => !version.key.startsWith('auditforge/migrations/')),
  )
  expect(versions).toEqual(Object.fromEntries(keys.map((key) => [key, 1])))
  expect(Object.keys(versions).every((key) => key.includes(id))).toBe(true)
}

describe('migrate --engine batch: the same result as --engine local', () => {
  it(
    'gives byte-identical targets, equivalent evidence and the same flips for several engagements, awkward keys included',
    {timeout: 180_000},
    async () => {
      const local = await seedShared('batch-vs-local-l', 3)
      const bulk = await seedShared('batch-vs-local-b', 3)

      const [viaLocal, viaBatch] = await Promise.all([
        runJson<MigrateJson>(migrate(local.bucket, '--execute', '--yes')),
        runJson<MigrateJson>(migrate(bulk.bucket, '--execute', '--yes', ...batch)),
      ])

      expect(viaLocal.code, viaLocal.stderr).toBe(0)
      expect(viaBatch.code, viaBatch.stderr).toBe(0)
      const count = objectsOf('eng-x').length
      for (const [side, result] of [
        [local, viaLocal],
        [bulk, viaBatch],
      ] as const) {
        expect(result.json.engagements.map((outcome) => [outcome.status, outcome.objects, outcome.copied])).toEqual(
          side.ids.map(() => ['migrated', count, count]),
        )
      }
      // One job per engagement, every task copied by it; nothing left to the local engine.
      for (const outcome of viaBatch.json.engagements as BatchOutcome[]) {
        expect(outcome.batch).toMatchObject({
          tasks: count,
          succeeded: count,
          failed: 0,
          retried_locally: 0,
          copied_locally: 0,
          reattached: false,
        })
        const jobs = await service.jobs(outcome.engagement_id)
        expect(jobs.map((job) => [job.jobId, job.status, job.createRequests])).toEqual([
          [outcome.batch!.job_id, 'Complete', 1],
        ])
        expect(jobs[0]).toMatchObject({
          roleArn: role,
          targetBucket: expectedBucketName(outcome.engagement_id),
          operation: {metadataDirective: 'COPY', checksumAlgorithm: 'CRC64NVME', storageClass: 'STANDARD'},
          report: {bucket: bulk.bucket, scope: 'AllTasks'},
          manifest: {fields: ['Bucket', 'Key', 'VersionId']},
          tags: {'auditforge:engagement-id': outcome.engagement_id, 'auditforge:migration-run': outcome.run_id},
        })
        expect(viaLocal.json.engagements.every((local) => !(local as BatchOutcome).batch)).toBe(true)
      }

      for (let i = 0; i < 3; i++) {
        const [lid, bid] = [local.ids[i], bulk.ids[i]]
        const [ltarget, btarget] = [expectedBucketName(lid), expectedBucketName(bid)]
        // The records point at the new buckets.
        expect((await recordOf(local.bucket, lid)).source_bucket).toBe(ltarget)
        expect((await recordOf(bulk.bucket, bid)).source_bucket).toBe(btarget)
        // Byte-identical targets: the same relative keys, bytes, content types, metadata, tags and storage classes.
        const relative = (keys: string[], id: string) =>
          keys.filter((key) => !key.startsWith('auditforge/migrations/')).map((key) => key.replace(id, 'ENG'))
        const [lkeys, bkeys] = [await keysOf(ltarget), await keysOf(btarget)]
        expect(relative(bkeys, bid)).toEqual(relative(lkeys, lid))
        expect(relative(bkeys, bid)).toHaveLength(count)
        for (const key of bkeys.filter((candidate) => !candidate.startsWith('auditforge/migrations/'))) {
          expect(await objectState(btarget, key), key).toEqual(await objectState(ltarget, key.replace(bid, lid)))
        }
        await expectOneVersionEach(
          btarget,
          bid,
          bkeys.filter((key) => !key.startsWith('auditforge/migrations/')),
        )
        // Equivalent evidence: a line per object with the same key, size, action and source ETag;
        // the source version pinned; the target identity is the version each target holds now.
        const [levidence, bevidence] = [await evidenceLines(ltarget, lid), await evidenceLines(btarget, bid)]
        const essence = (lines: EvidenceLine[], id: string) =>
          lines
            .map((line) => ({
              key: line.key.replace(id, 'ENG'),
              size: line.size,
              action: line.action,
              source_etag: line.source_etag,
            }))
            .sort((a, b) => (a.key < b.key ? -1 : 1))
        expect(essence(bevidence, bid)).toEqual(essence(levidence, lid))
        for (const line of bevidence) {
          const head = await s3.send(new HeadObjectCommand({Bucket: btarget, Key: line.key}))
          expect(line.source_version_id, line.key).toMatch(/\S/)
          expect([line.target_version_id, line.target_etag], line.key).toEqual([head.VersionId, head.ETag])
        }
      }

      // The manifests: three fields a line, each key URL-encoded so no field is split or misread.
      const manifestKeys = (await keysOf(bulk.bucket, 'auditforge/batch-operations/')).filter((key) =>
        key.endsWith('/manifest.csv'),
      )
      expect(manifestKeys).toHaveLength(3)
      const manifest = await (
        await s3.send(new GetObjectCommand({Bucket: bulk.bucket, Key: manifestKeys[0]}))
      ).Body!.transformToString('utf8')
      const rows = manifest
        .trim()
        .split('\n')
        .map((line) => line.split(','))
      expect(rows).toHaveLength(count)
      for (const [bucket, key, version] of rows) {
        expect(bucket).toBe(bulk.bucket)
        expect(version).toMatch(/\S/)
        expect(key).not.toMatch(/[ +,"'#?&\u0080-\uffff]|%(?![0-9A-F]{2})/)
      }
      const decoded = rows.map((row) => decodeURIComponent(row[1])).map((key) => key.split('/').at(-1))
      for (const name of awkwardNames) expect(decoded).toContain(name)

      // Verification after the flip holds for batch-copied objects exactly as for local ones.
      const verified = await runJson<MigrateJson>(migrate(bulk.bucket, '--verify-only'))
      expect(verified.code, verified.stderr).toBe(0)
      expect(verified.json.engagements.map((outcome) => outcome.status)).toEqual(['verified', 'verified', 'verified'])
    },
  )
})

describe('migrate --engine batch: failed tasks', () => {
  it('retries failed tasks once with the local engine and records them', {timeout: 90_000}, async () => {
    const {bucket, ids} = await seedShared('batch-retry', 1)
    const [id] = ids
    const failing = [`auditforge/engagements/${id}/findings.json`, `auditforge/engagements/${id}/source/with space.txt`]
    await service.behave(id, {
      failKeys: {
        [failing[0]]: {code: 'AccessDenied', status: 403},
        [failing[1]]: {code: 'InternalError', status: 500, message: 'We encountered an internal error, "really"'},
      },
    })

    const result = await runJson<MigrateJson>(migrate(bucket, '--execute', '--yes', ...batch))

    expect(result.code, result.stderr).toBe(0)
    const [outcome] = result.json.engagements as BatchOutcome[]
    const count = objectsOf(id).length
    expect(outcome).toMatchObject({
      status: 'migrated',
      copied: count,
      batch: {tasks: count, succeeded: count - 2, failed: 2, retried_locally: 2},
    })
    const target = expectedBucketName(id)
    const keys = objectsOf(id)
      .map((object) => object.key)
      .sort()
    await expectOneVersionEach(target, id, keys)
    const lines = await evidenceLines(target, id)
    expect(lines.filter((line) => failing.includes(line.key)).map((line) => line.action)).toEqual(['copied', 'copied'])
    // The local engine's copies carry the checksum its CopyObject returned.
    expect(
      lines.filter((line) => failing.includes(line.key)).every((line) => line.checksum_algorithm === 'CRC64NVME'),
    ).toBe(true)
    expect((await recordOf(bucket, id)).source_bucket).toBe(target)
  })

  it(
    "reports by key with S3's error code what neither the job nor the local retry copied, leaves the record, and finishes on a re-run",
    {timeout: 120_000},
    async () => {
      const {bucket, ids} = await seedShared('batch-retry-fails', 1)
      const [id] = ids
      const target = expectedBucketName(id)
      const stuck = `auditforge/engagements/${id}/audit_log/shard-00002.jsonl`
      await service.behave(id, {failKeys: {[stuck]: {code: 'AccessDenied', status: 403, message: 'Access Denied'}}})

      // The local retry goes through the proxy, which fails every write of that key.
      proxied.proxy.set({mode: 'internal-error', match: {method: 'PUT', path: `/${target}/${stuck}`}})
      const failed = await runJson<MigrateJson>(migrate(bucket, '--execute', '--yes', ...batch), {
        env: {AWS_ENDPOINT_URL: proxied.proxy.endpoint, AWS_MAX_ATTEMPTS: '2'},
      })

      expect(failed.code).toBe(1)
      const [outcome] = failed.json.engagements as BatchOutcome[]
      expect(outcome.status).toBe('failed')
      expect(outcome.error).toContain(stuck)
      expect(outcome.error).toContain('AccessDenied')
      expect(outcome.error).toContain((await service.jobs(id))[0].jobId)
      expect(proxied.faulted().length).toBeGreaterThan(0)
      expect((await recordOf(bucket, id)).source_bucket).toBe('')

      // Once writes go through again, a re-run re-attaches to the finished job, retries that one object and switches.
      const rerun = await runJson<MigrateJson>(migrate(bucket, '--execute', '--yes', ...batch))
      expect(rerun.code, rerun.stderr).toBe(0)
      const [finished] = rerun.json.engagements as BatchOutcome[]
      expect(finished).toMatchObject({
        status: 'migrated',
        batch: {
          reattached: true,
          job_id: outcome.batch?.job_id ?? (await service.jobs(id))[0].jobId,
          retried_locally: 1,
        },
      })
      expect(await service.jobs(id)).toHaveLength(1)
      expect((await recordOf(bucket, id)).source_bucket).toBe(target)
      await expectOneVersionEach(
        target,
        id,
        objectsOf(id)
          .map((object) => object.key)
          .sort(),
      )
    },
  )
})

describe('migrate --engine batch: interrupted and stopped jobs', () => {
  it(
    're-attaches to its job after the run is killed while polling, and never creates a second one',
    {timeout: 120_000},
    async () => {
      const {bucket, ids} = await seedShared('batch-kill', 1, 20)
      const [id] = ids
      await service.behave(id, {holdAfter: 5})
      const child = spawn(process.execPath, [binPath, ...migrate(bucket, '--execute', '--yes', ...batch)], {
        env: baseEnv() as NodeJS.ProcessEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
        child.once('exit', (code, signal) => resolve(signal ?? code)),
      )
      let stderr = ''
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
      // Wait until the job is active and held, then kill the run in the middle of its polling.
      const deadline = Date.now() + 30_000
      let jobs = await service.jobs(id)
      while (Date.now() < deadline && !(jobs[0]?.status === 'Active' && jobs[0].succeeded >= 5)) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        jobs = await service.jobs(id)
      }
      expect(jobs[0]?.status, stderr).toBe('Active')
      child.kill('SIGKILL')
      expect(await exited).toBe('SIGKILL')
      expect((await recordOf(bucket, id)).source_bucket).toBe('')

      // The re-run finds the job (still active) and polls it; released, it completes.
      const rerun = runJson<MigrateJson>(migrate(bucket, '--execute', '--yes', ...batch))
      await new Promise((resolve) => setTimeout(resolve, 1500))
      await service.release(jobs[0].jobId)
      const result = await rerun

      expect(result.code, result.stderr).toBe(0)
      const [outcome] = result.json.engagements as BatchOutcome[]
      const count = objectsOf(id, 20).length
      expect(outcome).toMatchObject({
        status: 'migrated',
        objects: count,
        batch: {job_id: jobs[0].jobId, reattached: true, succeeded: count},
      })
      const after = await service.jobs(id)
      expect(after.map((job) => [job.jobId, job.status, job.createRequests])).toEqual([[jobs[0].jobId, 'Complete', 1]])
      const target = expectedBucketName(id)
      await expectOneVersionEach(
        target,
        id,
        objectsOf(id, 20)
          .map((object) => object.key)
          .sort(),
      )
      expect((await recordOf(bucket, id)).source_bucket).toBe(target)

      // A run after a finished, recorded job has nothing left to copy: no new job.
      const again = await runJson<MigrateJson>(migrate(bucket, '--execute', '--yes', '--engagement-id', id, ...batch))
      expect(again.code, again.stderr).toBe(0)
      expect(again.json.engagements[0].status).toBe('already_migrated')
      expect(await service.jobs(id)).toHaveLength(1)
    },
  )

  it(
    'stops on a suspended job with its id and cause, record untouched; resumed, a re-run finishes it',
    {timeout: 90_000},
    async () => {
      const {bucket, ids} = await seedShared('batch-suspend', 1)
      const [id] = ids
      await service.behave(id, {suspend: 'AwaitingReview'})

      const result = await runCli(migrate(bucket, '--execute', '--yes', ...batch))

      expect(result.code).toBe(1)
      const [job] = await service.jobs(id)
      expect(job.status).toBe('Suspended')
      expect(result.stderr).toContain(`S3 Batch Operations job ${job.jobId} for ${id} is suspended (AwaitingReview)`)
      expect(result.stderr).toContain('update-job-status')
      expect((await recordOf(bucket, id)).source_bucket).toBe('')

      const control = new S3ControlClient({
        region: 'us-east-1',
        endpoint: inject('batchEndpoint'),
        credentials: {accessKeyId: 'testing', secretAccessKey: 'testing'},
        endpointProvider: () => ({
          url: new URL(inject('batchEndpoint')),
          properties: {authSchemes: [{name: 'sigv4', signingName: 's3', signingRegion: 'us-east-1', properties: {}}]},
        }),
      })
      await control.send(
        new UpdateJobStatusCommand({AccountId: '123456789012', JobId: job.jobId, RequestedJobStatus: 'Ready'}),
      )
      control.destroy()
      const rerun = await runJson<MigrateJson>(migrate(bucket, '--execute', '--yes', ...batch))
      expect(rerun.code, rerun.stderr).toBe(0)
      expect(rerun.json.engagements[0]).toMatchObject({
        status: 'migrated',
        batch: {job_id: job.jobId, reattached: true},
      })
      expect(await service.jobs(id)).toHaveLength(1)
    },
  )

  it(
    'stops on a failed job with its id and reason, record untouched; a re-run creates a new job',
    {timeout: 90_000},
    async () => {
      const {bucket, ids} = await seedShared('batch-failed', 1)
      const [id] = ids
      await service.behave(id, {failJob: 'The role could not read the manifest'})

      const result = await runJson<MigrateJson>(migrate(bucket, '--execute', '--yes', ...batch))

      expect(result.code).toBe(1)
      const [job] = await service.jobs(id)
      expect(job.status).toBe('Failed')
      const [outcome] = result.json.engagements as BatchOutcome[]
      expect(outcome.status).toBe('failed')
      expect(outcome.error).toBe(
        `S3 Batch Operations job ${job.jobId} for ${id} failed: JobFailed: The role could not read the manifest`,
      )
      expect((await recordOf(bucket, id)).source_bucket).toBe('')
      const plain = await runCli(migrate(bucket, '--execute', '--yes', ...batch))
      expect(plain.code).toBe(1)

      await service.behave(id, {})
      const rerun = await runJson<MigrateJson>(migrate(bucket, '--execute', '--yes', ...batch))
      expect(rerun.code, rerun.stderr).toBe(0)
      const jobs = await service.jobs(id)
      expect(jobs.map((candidate) => candidate.status).sort()).toEqual(['Complete', 'Failed', 'Failed'])
      expect(rerun.json.engagements[0]).toMatchObject({status: 'migrated', batch: {reattached: false}})
      expect((await recordOf(bucket, id)).source_bucket).toBe(expectedBucketName(id))
    },
  )
})

describe('migrate --engine auto', () => {
  it(
    'hands engagements at or over the threshold to Batch Operations and copies the others locally',
    {timeout: 90_000},
    async () => {
      const bucket = await createSharedBucket(s3, 'batch-auto')
      const [large, small] = [randomEngagementId(), randomEngagementId()]
      await putIndex(s3, bucket, {engagements: [seedRecord(large), seedRecord(small)]})
      for (const object of [...objectsOf(large, 6), ...objectsOf(small, 0).slice(0, 2)]) {
        await s3.send(new PutObjectCommand({Bucket: bucket, Key: object.key, Body: object.body}))
      }

      const result = await runJson<MigrateJson>(migrate(bucket, '--execute', '--yes', '--engine', 'auto'), {
        env: {AUDITFORGE_BATCH_ROLE_ARN: role, AUDITFORGE_BATCH_AUTO_OBJECTS: '10'},
      })

      expect(result.code, result.stderr).toBe(0)
      const byId = new Map(
        (result.json.engagements as BatchOutcome[]).map((outcome) => [outcome.engagement_id, outcome]),
      )
      expect(byId.get(large)).toMatchObject({status: 'migrated', batch: {succeeded: objectsOf(large, 6).length}})
      expect(byId.get(small)).toMatchObject({status: 'migrated', copied: 2})
      // Copied locally: no Batch Operations job, which the contract says with null (never a missing field).
      expect(byId.get(small)!.batch).toBeNull()
      expect(await service.jobs(small)).toHaveLength(0)

      // Without a role, auto is the local engine, and says so.
      const other = await seedShared('batch-auto-norole', 1)
      const local = await runCli(migrate(other.bucket, '--execute', '--yes', '--engine', 'auto'), {
        env: {AUDITFORGE_BATCH_AUTO_OBJECTS: '1'},
      })
      expect(local.code, local.stderr).toBe(0)
      expect(local.stderr).toContain('no Batch Operations role is configured')
      expect(await service.jobs(other.ids[0])).toHaveLength(0)
    },
  )
})

describe('migrate --engine: bad input', () => {
  const unreachable = {
    AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
    AWS_ENDPOINT_URL_S3_CONTROL: 'http://127.0.0.1:9',
    AUDITFORGE_BUCKET: 'some-shared-bucket',
  }
  const cases: [string, string[], RegExp][] = [
    ['batch without a role', ['--execute', '--yes', '--engine', 'batch'], /--engine batch needs the IAM role/],
    ['an engine without --execute', ['--engine', 'batch', '--role-arn', role], /use them with --execute/],
    ['--role-arn with --verify-only', ['--verify-only', '--role-arn', role], /use them with --execute/],
    [
      'a role that is not a role ARN',
      ['--execute', '--yes', '--engine', 'batch', '--role-arn', 'auditforge-batch'],
      /Invalid Batch Operations role/,
    ],
    [
      '--role-arn with the local engine',
      ['--execute', '--yes', '--engine', 'local', '--role-arn', role],
      /are for --engine batch or auto/,
    ],
    [
      'an invalid report bucket',
      ['--execute', '--yes', '--engine', 'batch', '--role-arn', role, '--report-bucket', 'Not_A_Bucket'],
      /Invalid --report-bucket/,
    ],
    ['an unknown engine', ['--execute', '--yes', '--engine', 'cluster'], /engine/],
  ]
  for (const [what, args, message] of cases) {
    it(`exits 2 before any AWS call: ${what}`, async () => {
      const started = Date.now()
      const result = await runCli(['migrate', ...args], {env: unreachable})
      expect(result.code, result.stderr).toBe(2)
      expect(result.stderr).toMatch(message)
      expect(Date.now() - started).toBeLessThan(10_000)
    })
  }
})

describe('migrate batch-role', () => {
  it('prints the trust, permission and caller policies without an AWS call when the account is known', async () => {
    const env = {AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AUDITFORGE_BUCKET: 'platform-shared'}
    const result = await runJson<BatchRolePolicies>(
      ['migrate', 'batch-role', '--account-id', '741783034843', '--role-arn', role],
      {env},
    )
    expect(result.code, result.stderr).toBe(0)
    expect(result.json.trust_policy.Statement).toEqual([
      expect.objectContaining({
        Principal: {Service: 'batchoperations.s3.amazonaws.com'},
        Action: 'sts:AssumeRole',
        Condition: {StringEquals: {'aws:SourceAccount': '741783034843'}},
      }),
    ])
    const statements = Object.fromEntries(
      result.json.permission_policy.Statement.map((statement) => [String(statement.Sid), statement]),
    )
    expect(statements.ReadEngagementSources.Resource).toContain('arn:aws:s3:::platform-shared/auditforge/engagements/*')
    expect(statements.ReadManifests.Resource).toEqual(['arn:aws:s3:::platform-shared/auditforge/batch-operations/*'])
    expect(statements.WriteEngagementBuckets.Resource).toContain('arn:aws:s3:::metis-af-*-741783034843/*')
    expect(statements.WriteReports.Resource).toEqual(['arn:aws:s3:::platform-shared/auditforge/batch-operations/*'])
    expect(JSON.stringify(result.json.permission_policy)).not.toMatch(/"s3:\*"|"Resource":"\*"/)
    expect(result.json.caller_policy.Statement[1]).toMatchObject({Action: 'iam:PassRole', Resource: role})

    const one = await runCli(
      [
        'migrate',
        'batch-role',
        '--account-id',
        '741783034843',
        '--engagement-id',
        'eng-6715f196fa40',
        '--report-bucket',
        'batch-reports',
      ],
      {env},
    )
    expect(one.code, one.stderr).toBe(0)
    expect(one.stdout).toContain('Trust policy of the role:')
    expect(one.stdout).toContain('arn:aws:s3:::metis-af-6715f196fa40-741783034843/*')
    expect(one.stdout).toContain('arn:aws:s3:::batch-reports/auditforge/batch-operations/eng-6715f196fa40/*')

    const key = 'arn:aws:kms:eu-west-1:741783034843:key/1234abcd-12ab-34cd-56ef-1234567890ab'
    const withKey = await runJson<BatchRolePolicies>(
      ['migrate', 'batch-role', '--account-id', '741783034843', '--kms-key-arn', key],
      {env},
    )
    expect(withKey.code, withKey.stderr).toBe(0)
    expect(withKey.json.permission_policy.Statement).toContainEqual({
      Sid: 'UseEncryptionKeys',
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: [key],
    })
    const alias = await runCli(
      ['migrate', 'batch-role', '--account-id', '741783034843', '--kms-key-arn', 'alias/audit'],
      {env},
    )
    expect(alias.code).toBe(2)
    expect(alias.stderr).toContain('Invalid --kms-key-arn "alias/audit"')
  })
})
