/**
 * Start-up benchmark: the median wall time of `auditforge --help` and
 * `auditforge engagement list --help`, as installed by npm (node + bin/run.js over dist/) and as
 * the single file `npm run package` builds, against `aws --version` on the same machine, in the
 * same run. Target: under 0.35 s median and below half of `aws --version`.
 *
 *   npm run bench:startup [-- --runs 21]
 */
import {spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const {values} = parseArgs({options: {runs: {type: 'string', default: '21'}}})
const runs = Number(values.runs)
const bin = fileURLToPath(new URL('../bin/run.js', import.meta.url))
const singleFile = fileURLToPath(new URL(`../dist/auditforge-${process.platform}-${process.arch}`, import.meta.url))

function median(command: string, args: string[]): number {
  const times: number[] = []
  for (let i = 0; i < runs + 2; i++) {
    const started = process.hrtime.bigint()
    const result = spawnSync(command, args, {stdio: 'ignore'})
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}`)
    if (i >= 2) times.push(seconds) // the first two warm the file cache
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]
}

const help = median(process.execPath, [bin, '--help'])
const listHelp = median(process.execPath, [bin, 'engagement', 'list', '--help'])
const single = existsSync(singleFile)
  ? {help: median(singleFile, ['--help']), listHelp: median(singleFile, ['engagement', 'list', '--help'])}
  : undefined
const awsAvailable = !spawnSync('aws', ['--version'], {stdio: 'ignore'}).error
const aws = awsAvailable ? median('aws', ['--version']) : undefined

console.log(`Start-up, median of ${runs} runs`)
console.log(`auditforge --help                  ${help.toFixed(3)} s`)
console.log(`auditforge engagement list --help  ${listHelp.toFixed(3)} s`)
if (single === undefined) console.log('single file                        (not built: npm run package)')
else {
  console.log(`single file --help                 ${single.help.toFixed(3)} s`)
  console.log(`single file engagement list --help ${single.listHelp.toFixed(3)} s`)
}
if (aws === undefined) console.log('aws --version                      (aws CLI not installed: no reference)')
else {
  console.log(`aws --version                      ${aws.toFixed(3)} s`)
  console.log(`ratio to aws --version: ${(help / aws).toFixed(2)} and ${(listHelp / aws).toFixed(2)} (target < 0.50)`)
  if (single)
    console.log(
      `single file ratio to aws --version: ${(single.help / aws).toFixed(2)} and ${(single.listHelp / aws).toFixed(2)}`,
    )
}
console.log(`target: under 0.350 s median: ${Math.max(help, listHelp) < 0.35 ? 'met' : 'NOT met'}`)
