/**
 * Text anyone could have written (object keys, index records, servers' error messages) carrying
 * terminal escape sequences, run through the real built CLI: what reaches the terminal is the
 * visible escaped form (`\u001b`), never the raw bytes; `--json` keeps the data exact.
 */
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'
import {expectedBucketName, putIndex, putRaw, randomEngagementId, seedRecord, seedS3} from '../helpers/commands.js'
import type {MigrateJson} from '../helpers/migrate.js'
import {runInPty} from '../helpers/pty.js'
import {createSharedBucket} from '../helpers/s3.js'
import {differenceText} from '../../src/ui/migration.js'

const osc = '\u001b]0;pwned\u0007'
const clear = '\u001b[2J'
/** The escaped form sanitize() prints for the OSC title sequence. */
const oscShown = '\\u001b]0;pwned\\u0007'
/** Without a TTY and with NO_COLOR the CLI draws nothing itself: none of these may appear. */
const rawControls = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/

function expectNoRawControls(text: string): void {
  expect(text).not.toMatch(rawControls)
}

describe('hostile text reaches the terminal escaped', () => {
  it('migrate: the dry-run warning, the --verify-only differences (exact under --json) and the rollback warning', async () => {
    const s3 = seedS3()
    const bucket = await createSharedBucket(s3, 'hostile')
    const id = randomEngagementId()
    const hostileId = `eng-${osc}${clear}`
    await putIndex(s3, bucket, {engagements: [seedRecord(id), seedRecord(hostileId)]})
    const source = `auditforge/engagements/${id}/source/`
    await putRaw(s3, bucket, `${source}doc.txt`, 'document')
    await putRaw(s3, bucket, `${source}evil-${osc}-${clear}-\u202etxt.exe`, 'hostile key')

    const dryRun = await runCli(['migrate', '--shared-bucket', bucket])
    expect(dryRun.code, dryRun.stderr).toBe(0)
    expectNoRawControls(dryRun.stdout + dryRun.stderr)
    expect(dryRun.stderr).toContain(
      `Warning: Skipped index entries with ids auditforge does not accept: "eng-${oscShown}\\u001b[2J"`,
    )

    const executed = await runCli(['migrate', '--execute', '--yes', '--engagement-id', id, '--shared-bucket', bucket])
    expect(executed.code, executed.stderr).toBe(0)
    expectNoRawControls(executed.stdout + executed.stderr)

    // A key new in the source is a difference for --verify-only; a key only in the target is
    // what rollback warns about.
    const late = `${source}late-${osc}${clear}\u009b2J.txt`
    await putRaw(s3, bucket, late, 'written to the shared bucket after the migration')
    const lateShown = `${source}late-${oscShown}\\u001b[2J\\u009b2J.txt`
    const newer = `${source}newer-${osc}\u2028.txt`
    await putRaw(s3, expectedBucketName(id), newer, 'written to the engagement bucket after the migration')
    const newerShown = `${source}newer-${oscShown}\\u2028.txt`

    const verify = await runCli(['migrate', '--verify-only', '--engagement-id', id, '--shared-bucket', bucket])
    expect(verify.code, verify.stderr).toBe(4)
    expectNoRawControls(verify.stdout + verify.stderr)
    // Added to the shared bucket after the switch: a late write.
    expect(verify.stderr).toContain(`failed verification; its record was not changed:\n  late write: ${lateShown} (`)

    const verifyJson = await runJson<MigrateJson>([
      'migrate',
      '--verify-only',
      '--engagement-id',
      id,
      '--shared-bucket',
      bucket,
    ])
    expect(verifyJson.code).toBe(4)
    // Structured under --json (the text view's line is built from the same fields).
    expect(verifyJson.json.engagements[0].differences).toEqual([
      expect.objectContaining({key: late, kind: 'late_write'}),
    ])
    expect(verifyJson.json.engagements[0].differences!.map((difference) => differenceText(difference))).toEqual([
      expect.stringContaining(`late write: ${late} (`),
    ])
    // JSON escapes (U+009B too, which JSON.stringify alone would leave raw): same key when parsed.
    expect(verifyJson.stdout).toContain(`"key": "${lateShown}"`)
    expectNoRawControls(verifyJson.stdout)

    const rollback = await runCli(['migrate', 'rollback', '--engagement-id', id, '--yes', '--shared-bucket', bucket])
    expect(rollback.code, rollback.stderr).toBe(0)
    expectNoRawControls(rollback.stdout + rollback.stderr)
    expect(rollback.stderr).toMatch(/^Warning: 1 object in metis-af-.* will not see them:\n {2}(.*)\n/m)
    expect(rollback.stderr).toContain(`\n  ${newerShown}\n`)
  })

  it('engagement delete: a hostile name in the index is asked about escaped, on a real terminal', async () => {
    const s3 = seedS3()
    const bucket = await createSharedBucket(s3, 'hostile')
    const id = randomEngagementId()
    const name = `Evil ${osc}${clear}\rforged \u202eelif`
    await putIndex(s3, bucket, {engagements: [seedRecord(id, {name})]})

    const asked = await runInPty(['engagement', 'delete', id, '--shared-bucket', bucket], {
      env: {NO_COLOR: '1'},
      steps: [{waitFor: /\(y\/N\)/, send: 'n\r'}],
    })
    expect(asked.code).toBe(5)
    expect(asked.screen).toContain(`Delete engagement ${id} (Evil ${oscShown}\\u001b[2J\\u000dforged \\u202eelif)`)
    for (const raw of [osc, clear, '\u0007', '\rforged', '\u202e']) expect(asked.screen).not.toContain(raw)

    const shown = await runJson<{name: string}>(['engagement', 'show', id, '--shared-bucket', bucket])
    expect(shown.code).toBe(0)
    expect(shown.json.name).toBe(name)
    expect(shown.stdout).toContain('"name": "Evil \\u001b]0;pwned\\u0007\\u001b[2J\\rforged \\u202eelif"')
  })

  describe('a server error message', () => {
    // CR does not survive the SDK's XML parsing (it becomes a line break), so it is not sent here.
    const message = `denied ${osc}${clear}\u009b2J \u202eforged`
    let endpoint = ''
    const server = createServer((_request, response) => {
      response.writeHead(400, {'content-type': 'application/xml'})
      response.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidArgument</Code><Message>${message}</Message><RequestId>r1</RequestId></Error>`,
      )
    })
    beforeAll(async () => {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    })
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

    it('is one escaped error line; --json keeps it exact', async () => {
      const args = ['engagement', 'list', '--shared-bucket', 'some-bucket']
      const human = await runCli(args, {env: {AWS_ENDPOINT_URL: endpoint}})
      expect(human.code).toBe(1)
      expectNoRawControls(human.stdout + human.stderr)
      expect(human.stderr).toContain(`InvalidArgument: denied ${oscShown}\\u001b[2J\\u009b2J \\u202eforged`)
      expect(human.stderr.split('\n').filter((line) => line.startsWith('Error:'))).toHaveLength(1)

      const json = await runJson<{error: {message: string}}>(args, {env: {AWS_ENDPOINT_URL: endpoint}})
      expect(json.code).toBe(1)
      expect(json.json.error.message).toContain(message)
    })
  })
})
