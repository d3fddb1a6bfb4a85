/**
 * Migration benchmark: on one moto_server and the same seeded data, times
 *   (a) seed 000's manual procedure, `aws s3 sync` per engagement prefix,
 *   (b) the ceiling: nothing but concurrent SDK CopyObject calls, given every key and ETag, making
 *       the same requests auditforge makes (into a versioned bucket, pinned with If-Match to the
 *       source ETag, If-None-Match on the target, a CRC64NVME checksum),
 *   (b') the same without those conditions: plain CopyObject into an unversioned bucket,
 *   (c) `auditforge migrate --execute --yes` (which also plans, provisions, lists, verifies,
 *       writes evidence, flips and looks for late writes),
 * and prints objects/s for each and the ratios against (b) and (a).
 *
 *   npm run bench:migrate [-- --engagements 10 --objects 300 --concurrency 16]
 */
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

import {
  CopyObjectCommand,
  type CopyObjectCommandInput,
  CreateBucketCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3'
import pLimit from 'p-limit'

import {startMoto} from '../scripts/moto.js'

const {values} = parseArgs({
  options: {
    engagements: {type: 'string', default: '10'},
    objects: {type: 'string', default: '300'},
    large: {type: 'string', default: '3'},
    concurrency: {type: 'string', default: '16'},
  },
})
const engagements = Number(values.engagements)
const objectsPer = Number(values.objects)
const largePer = Number(values.large)
const concurrency = Number(values.concurrency)
const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const shared = 'bench-shared'

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9
}

async function main(): Promise<void> {
  const moto = await startMoto()
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  const credentials = {accessKeyId: 'bench', secretAccessKey: 'bench'}
  const s3 = new S3Client({region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true, credentials})
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: moto.endpoint,
    AUDITFORGE_BUCKET: shared,
    CI: 'true',
  }
  try {
    await s3.send(new CreateBucketCommand({Bucket: shared}))
    await s3.send(new PutBucketVersioningCommand({Bucket: shared, VersioningConfiguration: {Status: 'Enabled'}}))

    // Seed: N engagements, each with small objects of 2–20 KB and a few MB-sized ones.
    const ids: string[] = []
    for (let i = 0; i < engagements; i++) {
      const created = spawnSync(process.execPath, [bin, 'engagement', 'create', '--name', `Bench ${i}`, '--json'], {
        env,
        encoding: 'utf8',
      })
      if (created.status !== 0) throw new Error(`engagement create failed: ${created.stderr}`)
      ids.push(JSON.parse(created.stdout).engagement_id)
    }
    const keys: {id: string; key: string; size: number; etag?: string}[] = []
    for (const id of ids) {
      for (let n = 0; n < objectsPer; n++) {
        const size = 2048 + Math.floor(Math.random() * 18 * 1024)
        keys.push({id, key: `auditforge/engagements/${id}/source/doc-${String(n).padStart(4, '0')}.txt`, size})
      }
      for (let n = 0; n < largePer; n++)
        keys.push({
          id,
          key: `auditforge/deliverables/${id}${n === 0 ? '' : `-v${n}`}.docx`.replace(`${id}-v`, `${id}.v`),
          size: (1 + n) * 1024 * 1024,
        })
    }
    const seedLimit = pLimit(32)
    const start = process.hrtime.bigint()
    await Promise.all(
      keys.map((object) =>
        seedLimit(async () => {
          const put = await s3.send(
            new PutObjectCommand({
              Bucket: shared,
              Key: object.key,
              Body: randomBytes(object.size),
              ContentType: 'application/octet-stream',
            }),
          )
          object.etag = put.ETag
        }),
      ),
    )
    const totalObjects = keys.length + ids.length // plus each engagement's first audit-log shard
    const totalMiB = keys.reduce((sum, object) => sum + object.size, 0) / 1024 / 1024
    console.error(
      `Seeded ${engagements} engagements, ${totalObjects} objects, ${totalMiB.toFixed(1)} MiB in ${seconds(start).toFixed(1)} s`,
    )

    // (b) and (b'): nothing but concurrent CopyObject calls into pre-made buckets.
    const copyLimit = pLimit(concurrency)
    const copyAll = async (
      prefix: string,
      versioned: boolean,
      request: (object: (typeof keys)[number]) => Partial<CopyObjectCommandInput>,
    ) => {
      for (const id of ids) {
        await s3.send(new CreateBucketCommand({Bucket: `${prefix}-${id.slice(4)}`}))
        if (versioned)
          await s3.send(
            new PutBucketVersioningCommand({
              Bucket: `${prefix}-${id.slice(4)}`,
              VersioningConfiguration: {Status: 'Enabled'},
            }),
          )
      }
      const started = process.hrtime.bigint()
      await Promise.all(
        keys.map((object) =>
          copyLimit(() =>
            s3.send(
              new CopyObjectCommand({
                Bucket: `${prefix}-${object.id.slice(4)}`,
                Key: object.key,
                CopySource: `${shared}/${encodeURIComponent(object.key).replace(/%2F/g, '/')}`,
                ...request(object),
              }),
            ),
          ),
        ),
      )
      return seconds(started)
    }
    const sdkSeconds = await copyAll('ref-sdk', true, (object) => ({
      CopySourceIfMatch: object.etag,
      IfNoneMatch: '*',
      ChecksumAlgorithm: 'CRC64NVME',
    }))
    const plainSeconds = await copyAll('ref-plain', false, () => ({}))

    // (c) auditforge migrate --execute --yes: provisions, copies, verifies, flips records.
    const toolStart = process.hrtime.bigint()
    const migrated = spawnSync(
      process.execPath,
      [bin, 'migrate', '--execute', '--yes', '--json', '--concurrency', String(concurrency)],
      {env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024},
    )
    const toolSeconds = seconds(toolStart)
    if (migrated.status !== 0) throw new Error(`auditforge migrate failed (${migrated.status}): ${migrated.stderr}`)
    const report = JSON.parse(migrated.stdout)
    if (report.totals.copied !== totalObjects)
      throw new Error(`auditforge copied ${report.totals.copied}, expected ${totalObjects}`)

    // (a) Seed 000's manual procedure: aws s3 sync per engagement prefix.
    let syncSeconds: number | undefined
    if (spawnSync('aws', ['--version'], {stdio: 'ignore'}).error) {
      console.error('aws CLI not found: skipping the `aws s3 sync` reference')
    } else {
      const syncStart = process.hrtime.bigint()
      for (const id of ids) {
        const target = `ref-sync-${id.slice(4)}`
        const aws = (...args: string[]) => {
          const result = spawnSync('aws', ['--endpoint-url', moto.endpoint, ...args], {env, encoding: 'utf8'})
          if (result.status !== 0) throw new Error(`aws ${args.join(' ')} failed: ${result.stderr}`)
        }
        aws('s3', 'mb', `s3://${target}`)
        aws(
          's3',
          'sync',
          '--only-show-errors',
          `s3://${shared}/auditforge/engagements/${id}/`,
          `s3://${target}/auditforge/engagements/${id}/`,
        )
        aws(
          's3',
          'sync',
          '--only-show-errors',
          `s3://${shared}/auditforge/deliverables/`,
          `s3://${target}/auditforge/deliverables/`,
          '--exclude',
          '*',
          '--include',
          `${id}.*`,
          '--include',
          `${id}-methodology.md`,
        )
        aws(
          's3',
          'sync',
          '--only-show-errors',
          `s3://${shared}/auditforge/audit_logs/${id}/`,
          `s3://${target}/auditforge/audit_logs/${id}/`,
        )
      }
      syncSeconds = seconds(syncStart)
    }

    const rate = (secondsTaken: number) => totalObjects / secondsTaken
    const row = (name: string, secondsTaken: number) =>
      `${name.padEnd(44)}${secondsTaken.toFixed(2).padStart(8)} s${rate(secondsTaken).toFixed(0).padStart(9)} obj/s`
    console.log(
      `Migration benchmark: ${engagements} engagements, ${totalObjects} objects, ${totalMiB.toFixed(1)} MiB, concurrency ${concurrency}, moto_server on loopback`,
    )
    if (syncSeconds !== undefined) console.log(row('(a) aws s3 sync per prefix (seed 000)', syncSeconds))
    console.log(row('(b) ceiling: SDK CopyObject, same requests', sdkSeconds))
    console.log(row("(b') plain CopyObject, unversioned target", plainSeconds))
    console.log(row('(c) auditforge migrate --execute --yes', toolSeconds))
    console.log(
      `auditforge / ceiling (b):        ${(rate(toolSeconds) / rate(sdkSeconds)).toFixed(2)}  (target >= 0.90)`,
    )
    console.log(`auditforge / plain copies (b'):  ${(rate(toolSeconds) / rate(plainSeconds)).toFixed(2)}`)
    if (syncSeconds !== undefined)
      console.log(`auditforge time / aws s3 sync:   ${(toolSeconds / syncSeconds).toFixed(2)}  (target <= 0.50)`)
  } finally {
    s3.destroy()
    await moto.stop()
  }
}

main().catch((error: unknown) => {
  console.error(`Benchmark failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
})
