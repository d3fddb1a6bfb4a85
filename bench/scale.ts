/**
 * Scale benchmark: one engagement with N objects (100k and 1M by default) in the shared bucket,
 * served by the synthetic loopback S3 (bench/fixtures/synthetic-s3.ts, its own process), and
 *   (a) the real CLI: `auditforge migrate --json` (plan) and `migrate --execute --yes --json`,
 *   (b) a reference: a raw SDK CopyObject loop, same concurrency, same keys, fresh server.
 * Prints per N: objects/s, client CPU ms per object, requests per object by operation, peak
 * RSS of plan and execute, and how peak RSS grows with N. Every child has a time limit and a
 * heap cap; a run that hits either is reported as not finished.
 *
 *   npm run bench:scale [-- --keys 20000] [--keys 100000,1000000 --concurrency 64 --timeout-minutes 15]
 *   BENCH_SCALE_KEYS=20000 npm run bench:scale
 * --force runs an N even when the previous one predicts it will outlast the time limit;
 * --skip-reference leaves out the raw SDK loop (e.g. to measure only RSS at 1M).
 */
import {type ChildProcess, spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {cpus, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

import {type SyntheticStats, accountId, startSyntheticS3} from './fixtures/synthetic-s3.js'

const {values} = parseArgs({
  options: {
    keys: {type: 'string', default: process.env.BENCH_SCALE_KEYS ?? '100000,1000000'},
    concurrency: {type: 'string', default: '64'},
    'timeout-minutes': {type: 'string', default: '15'},
    'max-old-space-mb': {type: 'string', default: '8192'},
    force: {type: 'boolean', default: false},
    'skip-reference': {type: 'boolean', default: false},
  },
})
const counts = values.keys.split(',').map((count) => Number(count.replace(/_/g, '')))
if (counts.some((count) => !Number.isInteger(count) || count < 1))
  throw new Error(`--keys: expected positive integers, got ${values.keys}`)
const concurrency = Number(values.concurrency)
const timeoutMs = Number(values['timeout-minutes']) * 60_000
const heapCap = `--max-old-space-size=${Number(values['max-old-space-mb'])}`
const root = fileURLToPath(new URL('..', import.meta.url))
const bin = join(root, 'bin/run.js')
const referenceScript = join(root, 'bench/fixtures/sdk-copy-loop.ts')
const sharedBucket = 'bench-shared'
const gnuTime = existsSync('/usr/bin/time') && spawnSync('/usr/bin/time', ['-f', '%M', 'true']).status === 0

interface Measured {
  /** 'ok', 'exit N', 'timed out', 'out of memory', 'killed by SIG…'. */
  outcome: string
  /** Epoch ms when the process was started, to place the server's request times. */
  startedAt: number
  wallS: number
  cpuS?: number
  peakRssMb?: number
  stdout: string
  stderr: string
}

/**
 * Runs a command and measures it: wall time, and user+sys CPU and peak RSS from GNU time when
 * present (exact), otherwise from /proc polling (peak so far). The whole process group is
 * killed when the time limit passes.
 */
async function measure(args: string[], env: NodeJS.ProcessEnv): Promise<Measured> {
  const scratch = mkdtempSync(join(tmpdir(), 'bench-scale-'))
  const timeFile = join(scratch, 'time')
  const argv = gnuTime ? ['/usr/bin/time', '-o', timeFile, '-f', '%e %U %S %M', ...args] : args
  const startedAt = Date.now()
  const started = process.hrtime.bigint()
  const child = spawn(argv[0], argv.slice(1), {env, cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe']})
  const stdout: Buffer[] = []
  const stderr: Buffer[] = []
  child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk))
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk))
  let timedOut = false
  let polled = {peakKb: 0, cpuTicks: 0}
  const poller = setInterval(() => {
    polled = pollProcess(child, polled)
  }, 250)
  const heartbeat = setInterval(
    () =>
      console.error(`  … ${seconds(started).toFixed(0)} s, peak RSS so far ${(polled.peakKb / 1024).toFixed(0)} MB`),
    30_000,
  )
  const timer = setTimeout(() => {
    timedOut = true
    process.kill(-child.pid!, 'SIGKILL')
  }, timeoutMs)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('close', (...exit) => resolve(exit)),
  )
  clearTimeout(timer)
  clearInterval(poller)
  clearInterval(heartbeat)
  const wallS = seconds(started)
  const err = Buffer.concat(stderr).toString('utf8')
  let cpuS: number | undefined = polled.cpuTicks / 100
  let peakRssMb: number | undefined = polled.peakKb ? polled.peakKb / 1024 : undefined
  if (gnuTime && existsSync(timeFile)) {
    const figures = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number)
    if (figures.length === 4 && figures.every((figure) => Number.isFinite(figure))) {
      cpuS = figures[1] + figures[2]
      peakRssMb = figures[3] / 1024
    }
  }
  rmSync(scratch, {recursive: true, force: true})
  const outOfMemory = /heap out of memory|Allocation failed/i.test(err)
  const outcome = timedOut
    ? 'timed out'
    : outOfMemory
      ? 'out of memory'
      : signal
        ? `killed by ${signal}`
        : code === 0
          ? 'ok'
          : `exit ${code}`
  return {outcome, startedAt, wallS, cpuS, peakRssMb, stdout: Buffer.concat(stdout).toString('utf8'), stderr: err}
}

/** The measured node process (GNU time's child when it wraps it): peak RSS and CPU ticks so far. */
function pollProcess(
  child: ChildProcess,
  last: {peakKb: number; cpuTicks: number},
): {peakKb: number; cpuTicks: number} {
  try {
    let pid = child.pid!
    if (gnuTime) {
      const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim()
      if (!children) return last
      pid = Number(children.split(' ')[0])
    }
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const peakKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0)
    // Fields after the parenthesised name: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return {peakKb: Math.max(last.peakKb, peakKb), cpuTicks: Number(fields[11]) + Number(fields[12])}
  } catch {
    return last // not started yet, or already gone
  }
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9
}

interface ScaleResult {
  keys: number
  plan: Measured
  execute: Measured
  copied: number
  requests: SyntheticStats
  reference?: {copied: number; seconds: number; cpu_ms: number; peakRssMb?: number; outcome: string}
}

/** Plan, execute and the reference for one engagement of `keys` objects. */
async function runScale(keys: number): Promise<ScaleResult> {
  const engagementId = `eng-scale${keys}`
  const server = await startSyntheticS3({keys, engagementId, sharedBucket})
  let plan: Measured
  let execute: Measured
  let requests: SyntheticStats
  try {
    const env = {
      ...process.env,
      AWS_ENDPOINT_URL: server.endpoint,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
      AUDITFORGE_BUCKET: sharedBucket,
      AUDITFORGE_ACCOUNT_ID: accountId,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      CI: 'true',
    }
    console.error(`N=${keys}: plan`)
    plan = await measure([process.execPath, heapCap, bin, 'migrate', '--engagement-id', engagementId, '--json'], env)
    await server.resetStats()
    console.error(`N=${keys}: execute (plan ${plan.outcome}, ${plan.wallS.toFixed(1)} s)`)
    const cli = [
      'migrate',
      '--execute',
      '--yes',
      '--json',
      '--engagement-id',
      engagementId,
      '--concurrency',
      String(concurrency),
    ]
    execute = await measure([process.execPath, heapCap, bin, ...cli], env)
    requests = await server.stats()
  } finally {
    await server.stop()
  }
  let copied = 0
  if (execute.outcome === 'ok') copied = JSON.parse(execute.stdout).totals.copied
  else
    console.error(`N=${keys}: execute ${execute.outcome}: ${execute.stderr.trim().split('\n').slice(-5).join(' | ')}`)

  if (values['skip-reference']) return {keys, plan, execute, copied, requests}
  console.error(`N=${keys}: reference SDK CopyObject loop (execute ${execute.outcome}, ${execute.wallS.toFixed(1)} s)`)
  const fresh = await startSyntheticS3({keys, engagementId, sharedBucket})
  let reference: ScaleResult['reference']
  try {
    const args = [
      '--import',
      'tsx',
      referenceScript,
      '--endpoint',
      fresh.endpoint,
      '--keys',
      String(keys),
      '--engagement-id',
      engagementId,
      '--shared-bucket',
      sharedBucket,
      '--concurrency',
      String(concurrency),
    ]
    const run = await measure([process.execPath, heapCap, ...args], process.env)
    if (run.outcome === 'ok')
      reference = {...JSON.parse(run.stdout.trim().split('\n').at(-1)!), peakRssMb: run.peakRssMb, outcome: run.outcome}
    else console.error(`N=${keys}: reference ${run.outcome}: ${run.stderr.trim().split('\n').slice(-3).join(' | ')}`)
  } finally {
    await fresh.stop()
  }
  return {keys, plan, execute, copied, requests, reference}
}

const mb = (value?: number) => (value === undefined ? '?' : `${value.toFixed(0)} MB`)
const fixed = (value: number | undefined, digits: number) =>
  value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits)

function printResult(result: ScaleResult): void {
  const {execute, reference, requests, copied} = result
  const finished = execute.outcome === 'ok'
  const copyOps = requests.byOperation.CopyObject ?? 0
  const copyPhaseS = copyOps > 1 ? (requests.lastAt.CopyObject - requests.firstAt.CopyObject) / 1000 : undefined
  const toolRate = finished ? copied / execute.wallS : undefined
  const toolCopyRate = copyPhaseS ? copyOps / copyPhaseS : undefined
  const refRate = reference ? reference.copied / reference.seconds : undefined
  const toolCpu = finished && execute.cpuS !== undefined ? (execute.cpuS * 1000) / copied : undefined
  const refCpu = reference ? reference.cpu_ms / reference.copied : undefined
  const ratio = (a?: number, b?: number) => (a !== undefined && b ? fixed(a / b, 2) : '–')
  const row = (name: string, a: string, b: string, c: string) =>
    console.log(`  ${name.padEnd(34)}${a.padStart(14)}${b.padStart(14)}${c.padStart(10)}`)

  console.log(
    `\nN = ${result.keys.toLocaleString('en-US')} objects in one engagement, concurrency ${concurrency}, ${cpus().length} cores, synthetic S3 on loopback`,
  )
  row('', 'auditforge', 'raw SDK', 'ratio')
  row('objects/s, end to end', fixed(toolRate, 0), fixed(refRate, 0), ratio(toolRate, refRate))
  row('objects/s, copy phase only', fixed(toolCopyRate, 0), fixed(refRate, 0), ratio(toolCopyRate, refRate))
  row('client CPU ms/object', fixed(toolCpu, 3), fixed(refCpu, 3), ratio(toolCpu, refCpu))
  row('peak RSS', mb(execute.peakRssMb), mb(reference?.peakRssMb), '')
  console.log(
    `  plan:    ${result.plan.outcome}, ${result.plan.wallS.toFixed(1)} s, CPU ${fixed(result.plan.cpuS, 1)} s, peak RSS ${mb(result.plan.peakRssMb)}`,
  )
  const phases =
    copyPhaseS === undefined
      ? ''
      : `; before the first copy ${((requests.firstAt.CopyObject - execute.startedAt) / 1000).toFixed(1)} s, copying ${copyPhaseS.toFixed(1)} s, after the last ${(execute.startedAt / 1000 + execute.wallS - requests.lastAt.CopyObject / 1000).toFixed(1)} s`
  console.log(
    `  execute: ${execute.outcome}, ${execute.wallS.toFixed(1)} s, CPU ${fixed(execute.cpuS, 1)} s, peak RSS ${mb(execute.peakRssMb)}, copied ${copied}${phases}`,
  )
  const perObject = Object.entries(requests.byOperation)
    .sort(([, a], [, b]) => b - a)
    .map(([operation, count]) => `${operation} ${count}${copied ? ` (${(count / copied).toPrecision(2)})` : ''}`)
  console.log(
    `  synthetic server CPU during execute: ${(requests.serverCpuMs / 1000).toFixed(1)} s (${requests.requests ? (requests.serverCpuMs / requests.requests).toFixed(3) : '–'} ms/request)`,
  )
  console.log(
    `  requests: ${requests.requests}${copied ? `, ${(requests.requests / copied).toFixed(4)} per migrated object` : ''} — ${perObject.join(', ')}`,
  )
}

async function main(): Promise<void> {
  const results: ScaleResult[] = []
  for (const keys of counts) {
    const previous = results.at(-1)
    // A run predicted (linearly) to outlast its time limit is skipped, not left to burn it.
    if (previous && !values.force) {
      const predicted =
        previous.execute.outcome === 'ok' ? (previous.execute.wallS * keys) / previous.keys : Number.POSITIVE_INFINITY
      if (predicted > timeoutMs / 1000) {
        console.log(
          `\nN = ${keys.toLocaleString('en-US')}: skipped, execute at ${previous.keys} ${previous.execute.outcome === 'ok' ? `took ${previous.execute.wallS.toFixed(0)} s, predicting ${(predicted / 60).toFixed(0)} min` : previous.execute.outcome} (limit ${timeoutMs / 60_000} min; --force runs it anyway)`,
        )
        continue
      }
    }
    const result = await runScale(keys)
    results.push(result)
    printResult(result)
  }
  const measured = results.filter((result) => result.execute.peakRssMb !== undefined)
  if (measured.length >= 2) {
    const [small, large] = [measured[0], measured.at(-1)!]
    const growth = large.execute.peakRssMb! - small.execute.peakRssMb!
    const perObject = (growth * 1024 * 1024) / (large.keys - small.keys)
    const note = large.execute.outcome === 'ok' ? '' : ` (${large.execute.outcome}: peak so far)`
    console.log(
      `\nPeak RSS of execute from ${small.keys} to ${large.keys} objects: ${mb(small.execute.peakRssMb)} → ${mb(large.execute.peakRssMb)}${note}, +${growth.toFixed(0)} MB, ≈${perObject.toFixed(0)} B per extra object`,
    )
    console.log(`Peak RSS of plan: ${mb(small.plan.peakRssMb)} → ${mb(large.plan.peakRssMb)}`)
  }
}

main().catch((error: unknown) => {
  console.error(`Benchmark failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
})
