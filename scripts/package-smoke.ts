/**
 * Smoke test of the single executable `npm run package` built (run by .ci/run, not by
 * `npm test`): the file is copied alone into an empty folder and run from there with a PATH
 * that holds nothing, so neither node_modules nor a Node installation can be found; it answers
 * `--help`, then creates, lists and deletes an engagement against moto_server on a free
 * loopback port. With DEBUG=auditforge its stack traces name functions and lines of the bundle
 * kept beside it (dist/auditforge-<platform>-<arch>.cjs). An inherited NODE_OPTIONS preload breaks it, and the README's way round that
 * (`NODE_OPTIONS=` or `env -u NODE_OPTIONS`) runs it. With strace on the machine, `--help` and
 * `engagement list` are also checked to open no file of the project, of node_modules or of a
 * Node installation.
 *
 *   npm run package && tsx scripts/package-smoke.ts
 */
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {startMoto} from './moto.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const built = join(root, 'dist', `auditforge-${process.platform}-${process.arch}`)
const started = Date.now()
let passed = 0
let failed = 0

async function check(name: string, body: () => void | Promise<void>): Promise<void> {
  try {
    await body()
    passed++
    console.log(`ok   ${name}`)
  } catch (error) {
    failed++
    console.log(`FAIL ${name}\n${error instanceof Error ? error.message : String(error)}`)
  }
}

const folder = mkdtempSync(join(tmpdir(), 'af-single-file-'))
const emptyPath = join(folder, 'empty-path')
mkdirSync(emptyPath)
const binary = join(folder, 'auditforge')
copyFileSync(built, binary)
const moto = await startMoto()

function run(
  args: string[],
  wrapper: string[] = [],
  env: Record<string, string> = {},
): {code: number | null; stdout: string; stderr: string} {
  const [command, ...rest] = wrapper.length > 0 ? [...wrapper, binary, ...args] : [binary, ...args]
  const result = spawnSync(command, rest, {
    cwd: folder,
    encoding: 'utf8',
    env: {
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_SECRET_ACCESS_KEY: 'testing',
      CI: 'true',
      HOME: folder,
      PATH: emptyPath,
      ...env,
    },
    timeout: 30_000,
  })
  return {code: result.status, stdout: result.stdout, stderr: result.stderr}
}

try {
  const bucket = `af-smoke-${Date.now()}`
  // moto accepts unsigned requests: the shared bucket is made without an SDK.
  const made = await fetch(`${moto.endpoint}/${bucket}`, {method: 'PUT'})
  assert.equal(made.status, 200, `creating ${bucket} on moto`)
  const shared = ['--shared-bucket', bucket]
  let id = ''
  let isolated = ''

  await check('--help lists the topics and commands, exit 0, nothing on stderr', () => {
    const help = run(['--help'])
    assert.equal(help.code, 0, help.stderr)
    for (const word of ['engagement', 'bucket', 'migrate', 'audit-log', 'doctor'])
      assert.match(help.stdout, new RegExp(`\\n  ${word} `))
    assert.equal(help.stderr, '')
  })
  await check("help engagement (a core plugin's command) lists the engagement commands", () => {
    const help = run(['help', 'engagement'])
    assert.equal(help.code, 0, help.stderr)
    assert.match(help.stdout, /engagement create/)
    assert.match(help.stdout, /engagement delete/)
  })
  await check('engagement create --isolated --json: a record with its own bucket', () => {
    const created = run([
      'engagement',
      'create',
      '--name',
      'Single file',
      '--client-id',
      'client-1',
      '--isolated',
      '--json',
      ...shared,
    ])
    assert.equal(created.code, 0, created.stderr)
    const record = JSON.parse(created.stdout) as {engagement_id: string; source_bucket: string; name: string}
    assert.match(record.engagement_id, /^eng-[0-9a-f]{12}$/)
    assert.equal(record.name, 'Single file')
    assert.ok(record.source_bucket.includes(record.engagement_id.slice(4)), record.source_bucket)
    id = record.engagement_id
    isolated = record.source_bucket
  })
  await check('engagement list --json shows it', () => {
    const listed = run(['engagement', 'list', '--json', ...shared])
    assert.equal(listed.code, 0, listed.stderr)
    const ids = (JSON.parse(listed.stdout) as {engagements: {engagement_id: string}[]}).engagements.map(
      (record) => record.engagement_id,
    )
    assert.deepEqual(ids, [id])
  })
  await check('engagement list prints the table', () => {
    const listed = run(['engagement', 'list', ...shared])
    assert.equal(listed.code, 0, listed.stderr)
    assert.ok(listed.stdout.includes(id), listed.stdout)
  })
  await check('engagement delete --yes removes it and its bucket', async () => {
    const deleted = run(['engagement', 'delete', id, '--yes', '--json', ...shared])
    assert.equal(deleted.code, 0, deleted.stderr)
    const listed = run(['engagement', 'list', '--json', ...shared])
    assert.deepEqual((JSON.parse(listed.stdout) as {engagements: unknown[]}).engagements, [])
    const head = await fetch(`${moto.endpoint}/${isolated}`, {method: 'HEAD'})
    assert.equal(head.status, 404, `${isolated} is still there`)
  })
  await check('a missing engagement is exit 3 with the JSON error', () => {
    const shown = run(['engagement', 'show', 'eng-000000000000', '--json', ...shared])
    assert.equal(shown.code, 3, shown.stderr)
    assert.equal((JSON.parse(shown.stdout) as {error: {exit: number}}).error.exit, 3)
  })

  await check('DEBUG=auditforge stack traces name functions and lines of the bundle kept beside the file', () => {
    const shown = run(['engagement', 'show', 'eng-000000000000', ...shared], [], {DEBUG: 'auditforge'})
    assert.equal(shown.code, 3, shown.stderr)
    const frame = /at (?:async )?EngagementShow\.run \((.+\.cjs):(\d+):\d+\)/.exec(shown.stderr)
    assert.ok(frame, `no readable frame in:\n${shown.stderr}`)
    assert.equal(frame[1], `${built}.cjs`)
    assert.match(readFileSync(frame[1], 'utf8').split('\n')[Number(frame[2]) - 1], /index|get|record/i)
  })

  // Node 20's single executable reads NODE_OPTIONS like node does (its sea-config has no
  // execArgvExtension to turn that off), so an APM preload inherited from the application's
  // container kills it before its first line runs. The README's way round it must keep working.
  const inherited = {NODE_OPTIONS: `--require=${join(folder, 'node_modules', 'dd-trace', 'init')}`}
  await check(
    'an inherited NODE_OPTIONS preload breaks it; NODE_OPTIONS= and env -u NODE_OPTIONS (the README) run it',
    () => {
      const broken = run(['--help'], [], inherited)
      assert.notEqual(
        broken.code,
        0,
        'the preload did not break the file: NODE_OPTIONS is ignored now, update the README',
      )
      assert.match(broken.stderr, /Cannot find module .*dd-trace/)
      const emptied = run(['engagement', 'list', '--json', ...shared], [], {...inherited, NODE_OPTIONS: ''})
      assert.equal(emptied.code, 0, emptied.stderr)
      assert.deepEqual((JSON.parse(emptied.stdout) as {engagements: unknown[]}).engagements, [])
      const env = spawnSync('sh', ['-c', 'command -v env'], {encoding: 'utf8'}).stdout.trim()
      const unset = run(['engagement', 'list', '--json', ...shared], [env, '-u', 'NODE_OPTIONS'], inherited)
      assert.equal(unset.code, 0, unset.stderr)
      assert.deepEqual((JSON.parse(unset.stdout) as {engagements: unknown[]}).engagements, [])
    },
  )

  // Looked up on this process's PATH: the binary's own PATH holds nothing.
  const strace = spawnSync('sh', ['-c', 'command -v strace'], {encoding: 'utf8'}).stdout.trim() || undefined
  if (strace) {
    await check('--help and engagement list open no project, node_modules or Node file', () => {
      for (const args of [['--help'], ['engagement', 'list', ...shared]]) {
        const log = join(folder, 'strace.log')
        const traced = run(args, [
          strace,
          '-f',
          '-qq',
          '-e',
          'trace=open,openat,execve,stat,statx,newfstatat',
          '-o',
          log,
        ])
        assert.equal(traced.code, 0, traced.stderr)
        const opened = readFileSync(log, 'utf8')
          .split('\n')
          .filter((line) => /"(\/[^"]*)"/.test(line))
          .map((line) => line.match(/"(\/[^"]*)"/)![1])
        const foreign = opened.filter(
          (path) => path.startsWith(root) || path.includes('node_modules') || /\/(bin|lib)\/node\b/.test(path),
        )
        assert.deepEqual(foreign, [], `${args.join(' ')} touched files outside the single file`)
      }
    })
  } else console.log('skip file-access check: strace is not installed')
} finally {
  await moto.stop()
  rmSync(folder, {force: true, recursive: true})
}

console.log(`single file smoke: ${((Date.now() - started) / 1000).toFixed(1)} s`)
console.log(`${passed} passed, ${failed} failed`)
process.exitCode = failed === 0 ? 0 : 1
