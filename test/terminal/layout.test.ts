/**
 * Tables at 60, 80 and 120 columns under a real pseudo-terminal: every line fits, and the
 * identifiers an operator copies (engagement ids, bucket names) are printed whole. Piped, a long
 * free-text value is cut instead of widening every row. NO_COLOR and TERM=dumb take colour and
 * cursor movement away and nothing else.
 */
import {PutObjectCommand} from '@aws-sdk/client-s3'
import {randomBytes} from 'node:crypto'
import {beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'
import {mapLimit, putIndex, randomEngagementId, seedRecord, seedS3} from '../helpers/commands.js'
import {runInPty} from '../helpers/pty.js'
import {createSharedBucket} from '../helpers/s3.js'

/** What a person sees, line by line: escape sequences taken out, carriage returns as line ends. */
function screenLines(screen: string): string[] {
  return screen
    .replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '')
    .split(/\r?\n|\r/)
    .map((line) => line.trimEnd())
}

const widths = [60, 80, 120]
const longName = 'Quarterly statutory audit of the group holding company and every subsidiary in scope this year'

describe('tables fit the terminal and never cut an identifier', () => {
  // A bucket prefix of this file's own, as long as the default: doctor lists every managed bucket
  // of its prefix, and other test files leave unbound ones under the default (more than three
  // make doctor's list end in its own "…").
  const prefix = `m${randomBytes(2).toString('hex')}-af-`
  const env = {AUDITFORGE_BUCKET_PREFIX: prefix, NO_COLOR: '1'}
  let shared: string
  let ids: string[]
  let buckets: string[]

  beforeAll(async () => {
    const s3 = seedS3()
    shared = await createSharedBucket(s3, 'fit')
    ids = [randomEngagementId(), randomEngagementId(), randomEngagementId()]
    await putIndex(s3, shared, {engagements: ids.map((id) => seedRecord(id, {name: longName}))})
    // Two of them get their own buckets; the third stays in the shared bucket, with objects to plan.
    buckets = []
    for (const id of ids.slice(0, 2)) {
      const provisioned = await runCli(['bucket', 'provision', id, '--shared-bucket', shared], {env})
      expect(provisioned.code, provisioned.stderr).toBe(0)
      buckets.push(provisioned.stdout.trim())
    }
    const records = ids.map((id, index) => seedRecord(id, {name: longName, source_bucket: buckets[index] ?? ''}))
    await putIndex(s3, shared, {engagements: records})
    await mapLimit([0, 1, 2], 3, (n) =>
      s3.send(
        new PutObjectCommand({
          Bucket: shared,
          Key: `auditforge/engagements/${ids[2]}/source/doc-${n}.txt`,
          Body: 'x'.repeat(1000),
        }),
      ),
    )
  })

  for (const cols of widths) {
    it(`engagement list at ${cols} columns`, async () => {
      const result = await runInPty(['engagement', 'list', '--shared-bucket', shared], {cols, env})
      expect(result.code).toBe(0)
      const lines = screenLines(result.screen)
      for (const line of lines) expect([...line].length, line).toBeLessThanOrEqual(cols)
      for (const id of ids) expect(lines.some((line) => line.includes(id))).toBe(true)
      for (const bucket of buckets) expect(lines.some((line) => line.includes(bucket))).toBe(true)
      expect(result.screen).not.toMatch(new RegExp(`${prefix}[0-9a-f]*…`))
      // Wide enough for everything: one row per engagement, date kept. At 80 the date goes first
      // and the name wraps; at 60 not even the ids and buckets fit side by side, so each
      // engagement becomes a block of labelled lines, with nothing cut.
      if (cols === 120)
        expect(
          lines.some((line) => line.startsWith(ids[0]) && line.includes(buckets[0]) && line.endsWith('2025-01-02')),
        ).toBe(true)
      if (cols === 80) {
        expect(result.screen).not.toContain('2025-01-02')
        expect(lines.some((line) => line.startsWith(ids[0]) && line.endsWith(buckets[0]))).toBe(true)
      }
      if (cols === 60) {
        expect(lines).toContain(`Engagement: ${ids[0]}`)
        expect(lines).toContain(`Bucket:     ${buckets[0]}`)
      }
      // The name is never cut, only wrapped: its last word is on screen.
      expect(result.screen).toContain('year')
    })

    it(`bucket verify --standard fsbp at ${cols} columns`, async () => {
      const result = await runInPty(['bucket', 'verify', buckets[0], '--standard', 'fsbp', '--shared-bucket', shared], {
        cols,
        env,
      })
      const lines = screenLines(result.screen)
      for (const line of lines) expect([...line].length, line).toBeLessThanOrEqual(cols)
      expect(lines.some((line) => line.startsWith(buckets[0]))).toBe(true)
      // Every result is there in full, one per control.
      expect(lines.filter((line) => /\b(pass|FAIL|skipped)\b/.test(line)).length).toBeGreaterThanOrEqual(8)
      expect(result.screen).toMatch(/S3\.\d+/)
      expect(result.screen).not.toContain('…')
      // What was found keeps its words whole: a value, or the index's name after `auditforge:index=`.
      expect(lines.some((line) => line.includes('BucketOwnerEnforced'))).toBe(true)
      expect(lines.some((line) => line.endsWith(shared))).toBe(true)
    })

    it(`doctor at ${cols} columns`, async () => {
      const result = await runInPty(['doctor', '--shared-bucket', shared], {cols, env})
      const lines = screenLines(result.screen)
      for (const line of lines) expect([...line].length, line).toBeLessThanOrEqual(cols)
      // A row, or (when a bucket name in a detail is wider than the Detail column could be) a block.
      const row = lines.some((line) => /^credentials\s+PASS/.test(line))
      const block = lines.some((line, index) => line === 'Check:  credentials' && lines[index + 1] === 'Status: PASS')
      expect(row || block).toBe(true)
      expect(result.screen).toContain(shared)
      // Nothing cut: a list of more than three buckets ends ", …" (other tests' buckets share this
      // server), which is the list's own "and more", never a cut name.
      expect(result.screen.replace(/,\s+…/g, '')).not.toContain('…')
    })

    it(`the migrate plan at ${cols} columns`, async () => {
      const result = await runInPty(['migrate', '--shared-bucket', shared], {cols, env})
      expect(result.code).toBe(0)
      // The dry-run notice is prose on stderr, wrapped by the terminal; the plan is laid out.
      const lines = screenLines(result.screen).filter((line) => !line.startsWith('Dry run'))
      for (const line of lines) expect([...line].length, line).toBeLessThanOrEqual(cols)
      expect(lines).toContain(`Source bucket: ${shared}`)
      expect(lines.some((line) => line.includes(ids[2]))).toBe(true)
      expect(result.screen).toMatch(new RegExp(`${prefix}${ids[2].slice(4)}-\\d{12}`))
      expect(lines).toContain('Total: 1 engagement, 3 objects, 0.00 MiB')
      // The rules are as wide as the table, never wider than the terminal.
      const rules = lines.filter((line) => /^=+$/.test(line))
      expect(rules).toHaveLength(2)
      for (const rule of rules) expect(rule.length).toBeLessThanOrEqual(cols)
    })
  }

  it('bucket verify of two buckets on a colour terminal draws one spinner at a time', async () => {
    // Colour on (no NO_COLOR), so the spinner animates.
    const result = await runInPty(['bucket', 'verify', ...buckets, '--shared-bucket', shared], {
      cols: 80,
      env: {AUDITFORGE_BUCKET_PREFIX: prefix},
    })
    expect(result.code).toBe(0)
    for (const bucket of buckets) expect(result.screen).toContain(bucket)
    expect(result.screen).not.toContain('Multiple concurrent spinners')
  })

  it('piped: a long name is cut with … and does not widen every row; --json keeps it whole', async () => {
    const s3 = seedS3()
    const bucket = await createSharedBucket(s3, 'pipe')
    const id = randomEngagementId()
    const name = `${'n'.repeat(150)} end`
    await putIndex(s3, bucket, {
      engagements: [seedRecord(id, {name}), seedRecord(randomEngagementId(), {name: 'short'})],
    })
    const piped = await runCli(['engagement', 'list', '--shared-bucket', bucket])
    expect(piped.code).toBe(0)
    const lines = piped.stdout.trimEnd().split('\n')
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(110)
    expect(piped.stdout).toContain('…')
    expect(piped.stdout).toContain(id)
    const json = await runCli(['engagement', 'list', '--shared-bucket', bucket, '--json'])
    expect(JSON.parse(json.stdout).engagements[0].name).toBe(name)
  })
})

describe('NO_COLOR and TERM=dumb take colour and cursor movement away, nothing else', () => {
  for (const env of [{NO_COLOR: '1'}, {TERM: 'dumb'}]) {
    const label = Object.entries(env)
      .map(([name, value]) => `${name}=${value}`)
      .join(' ')

    it(`${label}: the success line stays, as plain text`, async () => {
      const bucket = await createSharedBucket(seedS3(), 'plain')
      const result = await runInPty(
        ['bucket', 'provision', randomEngagementId(), '--shared-bucket', bucket, '--force'],
        {env},
      )
      expect(result.code).toBe(0)
      expect(result.screen).not.toContain('\u001b')
      expect(result.screen).toMatch(/^✔ Created metis-af-[0-9a-f]{12}-\d{12} with every control/m)
    })

    it(`${label}: migrate --execute prints plain lines and a summary, no redrawing`, async () => {
      const s3 = seedS3()
      const bucket = await createSharedBucket(s3, 'plain')
      const id = randomEngagementId()
      await putIndex(s3, bucket, {engagements: [seedRecord(id)]})
      await mapLimit([0, 1], 2, (n) =>
        s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `auditforge/engagements/${id}/source/doc-${n}.txt`,
            Body: 'x'.repeat(100),
          }),
        ),
      )
      const result = await runInPty(['migrate', '--execute', '--yes', '--shared-bucket', bucket], {env})
      expect(result.code).toBe(0)
      expect(result.screen).not.toContain('\u001b')
      expect(result.screen).not.toMatch(/\r(?!\n)/)
      expect(result.screen).toMatch(/^Migrating done in [\d.]+s: 2\/2 objects, 200 B\/200 B/m)
      expect(result.screen).not.toContain('ETA ?')
    })
  }
})
