import {describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {indexKey, putRaw, readIndex, seedRecord} from '../helpers/commands.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

/**
 * The index text as the platform (Python) writes it, two-space indented. A string "#<text>"
 * stands for the raw JSON <text>, for numbers JavaScript cannot hold.
 */
function platformText(document: unknown): string {
  return `${JSON.stringify(document, null, 2).replaceAll(/"#([^"]*)"/g, '$1')}\n`
}

const platformFields = {
  seq: '#12345678901234567891',
  ratio: '#1.0',
  exponent: '#1e5',
  negative_zero: '#-0',
  scoring: {weights: ['#0.50', '#2.0', {threshold: '#9007199254740993'}], empty: {}, none: null},
  label: 'Société Générale 😀 ✓',
}

describe('engagement index: lossless through the real CLI', () => {
  it("create and delete keep the platform's numbers, nesting and unicode exactly; show prints them exactly", async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const kept = 'eng-0a0a0a0a0a0a'
    const gone = 'eng-0b0b0b0b0b0b'
    const original = platformText({
      schema_version: '#2.0',
      generated_by: 'platform',
      engagements: [seedRecord(kept, platformFields), seedRecord(gone, {seq: '#1'})],
    })
    // One field spelt with JSON escapes, as Python's json.dumps writes non-ASCII by default.
    const text = original.replace('"generated_by": "platform"', '"generated_by": "plat\\u00e9form \\ud83d\\ude00"')
    await putRaw(s3, shared, indexKey, text, 'application/json')
    const env = {AUDITFORGE_BUCKET: shared}

    const created = await runJson<{engagement_id: string}>(['engagement', 'create', '--name', 'Lossless'], {env})
    expect(created.code, created.stderr).toBe(0)
    const deleted = await runCli(['engagement', 'delete', gone, '--yes'], {env})
    expect(deleted.code, deleted.stderr).toBe(0)

    const after = (await readIndex(s3, shared)).text
    // The kept record is byte for byte what the platform wrote.
    const keptBlock = original.slice(
      original.indexOf('    {\n      "engagement_id": "eng-0a0a'),
      original.indexOf('\n    },\n') + 7,
    )
    expect(keptBlock).toContain('"seq": 12345678901234567891,')
    expect(after).toContain(keptBlock)
    expect(after).toMatch(/^ {6}"seq": 12345678901234567891,$/m)
    expect(after).toMatch(/^ {6}"ratio": 1\.0,$/m)
    expect(after).toMatch(/^ {6}"exponent": 1e5,$/m)
    expect(after).toMatch(/^ {6}"negative_zero": -0,$/m)
    expect(after).toMatch(/"weights": \[\n {10}0\.50,\n {10}2\.0,\n {10}\{\n {12}"threshold": 9007199254740993\n/)
    expect(after).toContain('"label": "Société Générale 😀 ✓"')
    expect(after).toMatch(/^ {2}"schema_version": 2\.0,$/m)
    expect(after).toContain('"generated_by": "platéform 😀"')
    expect(after).toContain(`"engagement_id": "${created.json.engagement_id}"`)
    expect(after).not.toContain(gone)
    expect(after).not.toContain('isLosslessNumber')

    const shown = await runCli(['engagement', 'show', kept, '--json'], {env})
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout).toMatch(/^ {2}"seq": 12345678901234567891,$/m)
    expect(shown.stdout).toMatch(/^ {2}"ratio": 1\.0,$/m)
    expect(shown.stdout).not.toContain('isLosslessNumber')
    const listed = await runCli(['engagement', 'list', '--json'], {env})
    expect(listed.stdout).toMatch(/^ {6}"seq": 12345678901234567891,$/m)
    const table = await runCli(['engagement', 'show', kept], {env})
    expect(table.stdout).toMatch(/^seq\s+12345678901234567891$/m)
  })

  it.each([
    [
      'a map whose key and engagement_id disagree',
      platformText({engagements: {'eng-0c0c0c0c0c0c': seedRecord('eng-0d0d0d0d0d0d', {seq: '#12345678901234567891'})}}),
      /is corrupt: entry "eng-0c0c0c0c0c0c" holds engagement_id "eng-0d0d0d0d0d0d"/,
    ],
    [
      'a map that repeats an id as a JSON key',
      '{"eng-0c0c0c0c0c0c": {"name": "A", "source_bucket": ""}, "eng-0c0c0c0c0c0c": {"name": "B", "source_bucket": ""}}\n',
      /is corrupt: the key "eng-0c0c0c0c0c0c" appears twice/,
    ],
  ])('create refuses %s: exit 1, one line saying so, and the file unchanged', async (_what, text, reason) => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3)
    const written = await putRaw(s3, shared, indexKey, text, 'application/json')

    const result = await runCli(['engagement', 'create', '--name', 'Will fail', '--shared-bucket', shared])
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    const [message, ...rest] = result.stderr.trimEnd().split('\n')
    expect(message).toMatch(reason)
    expect(message).toContain(`s3://${shared}/${indexKey}`)
    expect(rest).toEqual([
      '  Restore a good version of the file (the bucket is versioned) before changing engagements.',
    ])

    const json = await runJson<{error: {code: string; exit: number}}>([
      'engagement',
      'create',
      '--name',
      'Will fail',
      '--shared-bucket',
      shared,
    ])
    expect(json.code).toBe(1)
    expect(json.json.error).toMatchObject({code: 'index_corrupt', exit: 1})

    const after = await readIndex(s3, shared)
    expect(after.text).toBe(text)
    expect(after.etag).toBe(written.ETag)
    expect(after.versionId).toBe(written.VersionId)
  })
})
