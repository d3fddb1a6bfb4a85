/**
 * Export benchmark: seeds an audit log of about 1 GiB in hundreds of shards on moto_server,
 * exports it with both deliveries under `/usr/bin/time -v`, and prints peak RSS and MB/s.
 *
 *   npm run bench:export [-- --mib 1024 --shards 256]
 */
import {spawnSync} from 'node:child_process'
import {openSync, closeSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

import {CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client} from '@aws-sdk/client-s3'
import pLimit from 'p-limit'

import {startMoto} from '../scripts/moto.js'

const {values} = parseArgs({
  options: {mib: {type: 'string', default: '1024'}, shards: {type: 'string', default: '256'}},
})
const totalMiB = Number(values.mib)
const shardCount = Number(values.shards)
const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const shared = 'bench-export-shared'

interface Measured {
  seconds: number
  peakRssMiB: number
  stdout: string
}

function timed(args: string[], env: NodeJS.ProcessEnv, stdoutToNull: boolean): Measured {
  const devNull = openSync('/dev/null', 'w')
  const started = process.hrtime.bigint()
  const result = spawnSync('/usr/bin/time', ['-v', process.execPath, bin, ...args], {
    env,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
    stdio: ['ignore', stdoutToNull ? devNull : 'pipe', 'pipe'],
  })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  closeSync(devNull)
  if (result.status !== 0) throw new Error(`auditforge ${args.join(' ')} exited ${result.status}: ${result.stderr}`)
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr)
  if (!rss) throw new Error('/usr/bin/time -v printed no peak RSS')
  return {seconds, peakRssMiB: Number(rss[1]) / 1024, stdout: result.stdout ?? ''}
}

async function main(): Promise<void> {
  if (spawnSync('/usr/bin/time', ['--version'], {stdio: 'ignore'}).error)
    throw new Error('/usr/bin/time is needed (Debian package "time")')
  const moto = await startMoto()
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: moto.endpoint,
    forcePathStyle: true,
    credentials: {accessKeyId: 'bench', secretAccessKey: 'bench'},
  })
  const env = {
    ...process.env,
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: moto.endpoint,
    AUDITFORGE_BUCKET: shared,
    CI: 'true',
  }
  try {
    await s3.send(new CreateBucketCommand({Bucket: shared}))
    await s3.send(new PutBucketVersioningCommand({Bucket: shared, VersioningConfiguration: {Status: 'Enabled'}}))
    const created = spawnSync(process.execPath, [bin, 'engagement', 'create', '--name', 'Export bench', '--json'], {
      env,
      encoding: 'utf8',
    })
    if (created.status !== 0) throw new Error(`engagement create failed: ${created.stderr}`)
    const id = JSON.parse(created.stdout).engagement_id as string

    // One shard body, reused: about totalMiB / shardCount MiB of realistic JSON events.
    const line = `${JSON.stringify({event: 'llm.call', timestamp: '2026-11-23T10:00:00Z', engagement_id: id, actor: 'arn:aws:sts::123456789012:assumed-role/task/abc', model: 'large', prompt_tokens: 1843, completion_tokens: 612, note: 'x'.repeat(300)})}\n`
    const linesPerShard = Math.max(1, Math.floor((totalMiB * 1024 * 1024) / shardCount / Buffer.byteLength(line)))
    const body = Buffer.from(line.repeat(linesPerShard))
    const limit = pLimit(8)
    const started = Date.now()
    await Promise.all(
      Array.from({length: shardCount}, (_, n) =>
        limit(() =>
          s3.send(
            new PutObjectCommand({
              Bucket: shared,
              Key: `auditforge/engagements/${id}/audit_log/shard-${String(n + 1).padStart(5, '0')}.jsonl`,
              Body: body,
            }),
          ),
        ),
      ),
    )
    const payloadMiB = (body.length * shardCount) / 1024 / 1024
    console.error(
      `Seeded ${shardCount} shards, ${payloadMiB.toFixed(0)} MiB, ${linesPerShard * shardCount} events in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    )

    const stream = timed(['audit-log', 'export', id], env, true)
    const signed = timed(['audit-log', 'export', id, '--delivery', 'signed_url', '--json'], env, false)
    const result = JSON.parse(signed.stdout)
    if (result.size_bytes < body.length * shardCount)
      throw new Error(`signed_url export has ${result.size_bytes} bytes, expected at least ${body.length * shardCount}`)

    const row = (name: string, measured: Measured) =>
      `${name.padEnd(28)}${measured.seconds.toFixed(1).padStart(7)} s${(payloadMiB / measured.seconds).toFixed(1).padStart(9)} MiB/s${measured.peakRssMiB.toFixed(0).padStart(8)} MiB peak RSS`
    console.log(
      `Audit-log export benchmark: ${payloadMiB.toFixed(0)} MiB in ${shardCount} shards, moto_server on loopback`,
    )
    console.log(row('stream (stdout)', stream))
    console.log(row('signed_url (upload + URL)', signed))
    const worst = Math.max(stream.peakRssMiB, signed.peakRssMiB)
    console.log(`peak RSS ${worst.toFixed(0)} MiB (target < 200 MiB)`)
  } finally {
    s3.destroy()
    await moto.stop()
  }
}

main().catch((error: unknown) => {
  console.error(`Benchmark failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
})
