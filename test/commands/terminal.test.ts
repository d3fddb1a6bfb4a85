/**
 * Behaviour in a real terminal (a pseudo-terminal through `script`) against behaviour without
 * one: prompts, spinners and progress, and Ctrl-C in the middle of a migration.
 */
import {spawn} from 'node:child_process'

import {PutObjectCommand} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {
  countByKey,
  listAllVersions,
  mapLimit,
  putIndex,
  randomEngagementId,
  readIndex,
  recordsOf,
  seedRecord,
  seedS3,
} from '../helpers/commands.js'
import {baseEnv, binPath, runCli, runJson} from '../helpers/cli.js'
import type {MigrateJson} from '../helpers/migrate.js'
import {runInPty} from '../helpers/pty.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

const escape = '\u001b['

async function sharedWithEngagement(objects = 3): Promise<{bucket: string; id: string}> {
  const {bucket, ids} = await sharedWithEngagements([objects])
  return {bucket, id: ids[0]}
}

/** A shared bucket with one engagement per count, each with that many objects. */
async function sharedWithEngagements(counts: number[]): Promise<{bucket: string; ids: string[]}> {
  const s3 = seedS3()
  const bucket = await createSharedBucket(s3, 'tty')
  const ids = counts.map(() => randomEngagementId())
  await putIndex(s3, bucket, {engagements: ids.map((id) => seedRecord(id))})
  const objects = ids.flatMap((id, index) => Array.from({length: counts[index]}, (_, n) => ({id, n})))
  await mapLimit(objects, 16, ({id, n}) =>
    s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: `auditforge/engagements/${id}/source/doc-${n}.txt`,
        Body: `document ${n} `.repeat(200),
      }),
    ),
  )
  return {bucket, ids}
}

describe('in a terminal', () => {
  it('asks before deleting; answering n changes nothing and exits 5', async () => {
    const {bucket, id} = await sharedWithEngagement()
    const before = await listAllVersions(testS3(), bucket)
    const result = await runInPty(['engagement', 'delete', id, '--shared-bucket', bucket], {
      steps: [{waitFor: /\(y\/N\)/, send: 'n\r'}],
    })
    expect(result.code).toBe(5)
    expect(result.screen).toMatch(/Delete engagement .*every/s)
    expect(result.screen).toContain('Not confirmed; nothing was changed')
    expect(recordsOf((await readIndex(testS3(), bucket)).json).map((record) => record.engagement_id)).toEqual([id])
    expect(await listAllVersions(testS3(), bucket)).toEqual(before)
  })

  it('asks before deleting; answering y deletes', async () => {
    const {bucket, id} = await sharedWithEngagement()
    const result = await runInPty(['engagement', 'delete', id, '--shared-bucket', bucket], {
      steps: [{waitFor: /\(y\/N\)/, send: 'y\r'}],
    })
    expect(result.code).toBe(0)
    expect(recordsOf((await readIndex(testS3(), bucket)).json)).toEqual([])
    const left = await listAllVersions(testS3(), bucket, `auditforge/engagements/${id}/`)
    expect(left).toEqual([])
  })

  it('without a terminal, the same command refuses without asking', async () => {
    const {bucket, id} = await sharedWithEngagement()
    const result = await runCli(['engagement', 'delete', id, '--shared-bucket', bucket])
    expect(result.code).toBe(5)
    expect(result.stderr).not.toContain('(y/N)')
    expect(recordsOf((await readIndex(testS3(), bucket)).json)).toHaveLength(1)
  })

  it('with CI=true at a terminal the refusal names CI as the reason; one engagement is asked about in the singular', async () => {
    const {bucket} = await sharedWithEngagement()
    const ci = await runInPty(['migrate', '--execute', '--shared-bucket', bucket], {env: {CI: 'true'}})
    expect(ci.code).toBe(5)
    expect(ci.screen).toContain('without confirmation: CI is set, so nobody is asked')
    const asked = await runInPty(['migrate', '--execute', '--shared-bucket', bucket], {
      steps: [{waitFor: /\(y\/N\)/, send: 'n\r'}],
    })
    expect(asked.code).toBe(5)
    expect(asked.screen).toContain('Copy 1 engagement into its own bucket and point its record there?')
  })

  it('without a terminal and without --yes, destructive commands refuse before any AWS call', async () => {
    // Nothing listens on port 9: any AWS call would fail with exit 1, not 5.
    const env = {AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AUDITFORGE_BUCKET: 'some-shared-bucket'}
    const id = randomEngagementId()
    for (const args of [
      ['engagement', 'delete', id],
      ['bucket', 'decommission', `metis-af-${id.slice(4)}-123456789012`],
      ['migrate', '--execute'],
      ['migrate', 'rollback', '--engagement-id', id],
    ]) {
      const result = await runCli(args, {env})
      expect(result.code, args.join(' ')).toBe(5)
      expect(result.stderr).toContain('Pass --yes')
    }
  })

  it('draws a spinner on a terminal and nothing animated without one', async () => {
    const engagement = randomEngagementId()
    const bucket = await createSharedBucket(testS3(), 'tty')
    const onTty = await runInPty(['bucket', 'provision', engagement, '--shared-bucket', bucket, '--force'])
    expect(onTty.code).toBe(0)
    // ora hides the cursor and redraws its line; the final mark is a check.
    expect(onTty.screen).toContain(`${escape}?25l`)
    expect(onTty.screen).toMatch(/✔(\u001b\[\d+m)? (Created|Repaired) metis-af-/)

    const piped = await runCli(['bucket', 'provision', engagement, '--shared-bucket', bucket, '--force'])
    expect(piped.code).toBe(0)
    expect(piped.stderr).not.toContain(escape)
    expect(piped.stdout).not.toContain(escape)
    expect(piped.stdout.trim()).toMatch(/^metis-af-[0-9a-f]{12}-\d{12}$/)
  })

  it('shows migration progress on a terminal, plain output without one, nothing extra under --json', async () => {
    const {bucket} = await sharedWithEngagement(150)
    const onTty = await runInPty(['migrate', '--execute', '--yes', '--concurrency', '2', '--shared-bucket', bucket])
    expect(onTty.code).toBe(0)
    // The phase and the counts at once; rate and ETA only once a window of samples says something.
    expect(onTty.screen).toMatch(/\r\u001b\[KMigrating \((provision|copy)\): \d+\/150 objects, /)
    expect(onTty.screen).toMatch(/Migrating done in [\d.]+m?\d*s: 150\/150 objects/)
    expect(onTty.screen).not.toContain('ETA ?')

    const other = await sharedWithEngagement(5)
    const piped = await runCli(['migrate', '--execute', '--yes', '--shared-bucket', other.bucket])
    expect(piped.code).toBe(0)
    expect(piped.stderr).not.toContain(escape)
    expect(piped.stdout).toContain('migrated')
    // Without a terminal: no "0/5 … ETA ?" line for a short run, and a closing summary.
    expect(piped.stderr).not.toMatch(/ETA \?|0\/5 objects/)
    expect(piped.stderr).toMatch(/^Migrating done in [\d.]+s: 5\/5 objects, /m)

    const third = await sharedWithEngagement(5)
    const json = await runJson<{engagements: {status: string}[]}>([
      'migrate',
      '--execute',
      '--yes',
      '--shared-bucket',
      third.bucket,
    ])
    expect(json.json.engagements[0].status).toBe('migrated')
    expect(json.stderr).toBe('')
  })

  it('Ctrl-C during migrate --execute leaves a state that a re-run completes', async () => {
    const {bucket} = await sharedWithEngagement(400)
    const interrupted = await runInPty(
      ['migrate', '--execute', '--yes', '--concurrency', '2', '--shared-bucket', bucket],
      {
        steps: [{waitFor: /Migrating \(copy\): [1-9]\d*\//, send: '\u0003'}],
      },
    )
    // One line: what is done, and the very command that resumes; the shell's code for SIGINT.
    expect(interrupted.code).toBe(130)
    expect(interrupted.screen).toMatch(
      /Interrupted in copy, \d+\/400 objects \(.*\) done; .*\.\r?\nResume with: auditforge migrate --execute --yes --concurrency 2 --shared-bucket \S+/,
    )
    expect(interrupted.screen).toContain(`--shared-bucket ${bucket}`)
    expect(recordsOf((await readIndex(testS3(), bucket)).json)[0].source_bucket).toBe('')

    const rerun = await runJson<{
      engagements: {status: string; copied: number; skipped_existing: number; target_bucket: string}[]
    }>(['migrate', '--execute', '--yes', '--shared-bucket', bucket])
    expect(rerun.code).toBe(0)
    const [outcome] = rerun.json.engagements
    expect(outcome.status).toBe('migrated')
    expect(outcome.skipped_existing).toBeGreaterThan(0)
    expect(outcome.copied + outcome.skipped_existing).toBe(400)
    // The migration's evidence (its reserved prefix) is not engagement data.
    const versions = countByKey(
      (await listAllVersions(testS3(), outcome.target_bucket)).filter(
        (version) => !version.key.startsWith('auditforge/migrations/'),
      ),
    )
    expect(Object.keys(versions)).toHaveLength(400)
    expect(Math.max(...Object.values(versions))).toBe(1)
    expect(recordsOf((await readIndex(testS3(), bucket)).json)[0].source_bucket).toBe(outcome.target_bucket)
  })

  it('Ctrl-C after one of two engagements switched: the line names it, and only its record moved', async () => {
    // The copy pool takes at most 512 of an engagement's objects at a time, so the small one's
    // copies are never queued behind all of the large one's: it switches while the large one copies.
    const {bucket, ids} = await sharedWithEngagements([2, 1200])
    const [small, large] = ids
    const interrupted = await runInPty(
      ['migrate', '--execute', '--yes', '--concurrency', '4', '--shared-bucket', bucket],
      {steps: [{waitFor: /1\/2 engagements done\): [1-9]\d*\//, send: '\u0003'}]},
    )
    expect(interrupted.code).toBe(130)
    expect(interrupted.screen).toMatch(
      new RegExp(
        `Interrupted in copy, \\d+/1,?202 objects \\(.*\\) done; 1 of 2 engagements switched to its own bucket: ${small}; copies made so far are kept and no other record was switched for an unfinished engagement\\.\\r?\\nResume with: auditforge migrate --execute --yes --concurrency 4 --shared-bucket ${bucket}`,
      ),
    )
    const records = recordsOf((await readIndex(testS3(), bucket)).json)
    const record = (id: string) => records.find((candidate) => candidate.engagement_id === id)!
    expect(record(small).source_bucket).toMatch(/^metis-af-/)
    expect(record(large).source_bucket).toBe('')
  })
})

describe('stopped by SIGTERM (a cancelled CI job, timeout, kill)', () => {
  it('says what is done and how to resume, and exits 143', async () => {
    const {bucket} = await sharedWithEngagement(400)
    const child = spawn(
      process.execPath,
      [
        binPath,
        'migrate',
        '--execute',
        '--yes',
        '--concurrency',
        '2',
        '--progress',
        'ndjson',
        '--shared-bucket',
        bucket,
      ],
      {env: baseEnv() as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe']},
    )
    let stderr = ''
    let sent = false
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      if (!sent && /"objects_done":[1-9]/.test(stderr)) sent = child.kill('SIGTERM')
    })
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
    expect(code).toBe(143)
    expect(stderr).toMatch(/"event":"interrupted".*"signal":"SIGTERM"/)
    expect(stderr).toMatch(
      new RegExp(
        `^Stopped by SIGTERM in copy, \\d+/400 objects .*\\.\\nResume with: auditforge migrate --execute --yes --concurrency 2 --progress ndjson --shared-bucket ${bucket}$`,
        'm',
      ),
    )
    expect(recordsOf((await readIndex(testS3(), bucket)).json)[0].source_bucket).toBe('')
  })
})

describe('Ctrl-C under --json', () => {
  it('stdout still gets one document: status interrupted, exit 130, the resume command as its suggestion', async () => {
    const {bucket, id} = await sharedWithEngagement(400)
    const args = ['migrate', '--execute', '--yes', '--json', '--progress', 'ndjson', '--concurrency', '2']
    const child = spawn(process.execPath, [binPath, ...args, '--shared-bucket', bucket], {
      env: baseEnv() as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    let sent = false
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      // The first copy done: interrupt, once (a second Ctrl-C is the shell's own).
      if (!sent && /"objects_done":[1-9]/.test(stderr)) sent = child.kill('SIGINT')
    })
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
    expect(code).toBe(130)
    const document = JSON.parse(stdout) as MigrateJson
    expect(document).toMatchObject({source_bucket: bucket, status: 'interrupted', mode: 'execute', engagements: []})
    expect(document.error).toMatchObject({code: 'interrupted', exit: 130})
    expect(document.error?.message).toMatch(/^Interrupted in copy, \d+\/400 objects/)
    expect(document.error?.suggestion).toBe(`Resume with: auditforge ${args.join(' ')} --shared-bucket ${bucket}`)
    // The ndjson stream ends with the interrupted event, naming what switched (nothing yet).
    const events = stderr
      .trim()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as {event: string; engagements_switched?: string[]})
    expect(events.at(-1)).toMatchObject({event: 'interrupted', engagements_switched: []})
    expect(recordsOf((await readIndex(testS3(), bucket)).json)[0].source_bucket).toBe('')
    expect(id).toMatch(/^eng-/)
  })
})

describe('what reaches the terminal', () => {
  it('with NO_COLOR on a terminal: no escape sequences at all', async () => {
    const bucket = await createSharedBucket(testS3(), 'tty')
    const result = await runInPty(['bucket', 'provision', randomEngagementId(), '--shared-bucket', bucket, '--force'], {
      env: {NO_COLOR: '1'},
    })
    expect(result.code).toBe(0)
    expect(result.screen).toMatch(/metis-af-[0-9a-f]{12}-\d{12}/)
    expect(result.screen).not.toContain('\u001b')
  })

  it('sanitises names from the index and fits the table to an 80-column terminal', async () => {
    const s3 = seedS3()
    const bucket = await createSharedBucket(s3, 'tty')
    const hostile = 'Evil \u001b]0;pwned\u0007\u001b[2J name that is rather long to overflow eighty columns of terminal'
    await putIndex(s3, bucket, {
      engagements: [
        seedRecord(randomEngagementId(), {name: hostile, source_bucket: `metis-af-abcdefabcdef-123456789012`}),
      ],
    })
    const result = await runInPty(['engagement', 'list', '--shared-bucket', bucket], {cols: 80, env: {NO_COLOR: '1'}})
    expect(result.code).toBe(0)
    expect(result.screen).not.toContain('\u001b]0;')
    expect(result.screen).not.toContain('\u001b[2J')
    // The name now wraps in its column, so "Evil" and its escaped sequence may be on separate lines.
    expect(result.screen).toMatch(/^\S+ +Evil /m)
    expect(result.screen).toContain('\\u001b]0;pwned')
    for (const line of result.screen.split(/\r?\n/)) expect([...line].length).toBeLessThanOrEqual(80)
  })
})
