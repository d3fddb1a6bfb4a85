/**
 * Typos get help, the way CI meets them (no TTY, CI=true): a mistyped command gets the command
 * meant, with spaces, as a usage error (exit 2) and never a prompt; an unknown flag gets the flag
 * meant; every message names flags with their dashes.
 */
import {describe, expect, it} from 'vitest'

import {runCli, runJson} from '../helpers/cli.js'

const usage = 'Run auditforge help for a list of commands.'

describe('a mistyped command without a terminal', () => {
  it.each([
    [['engagment', 'list'], 'engagment list', 'engagement list'],
    [['engagement', 'lst'], 'engagement lst', 'engagement list'],
    [['bucket', 'provison', 'eng-6715f196fa40'], 'bucket provison eng-6715f196fa40', 'bucket provision'],
    [['migrat'], 'migrat', 'migrate'],
    [['verify'], 'verify', 'bucket verify'],
  ])('%j suggests the command meant and exits 2 without waiting for an answer', async (args, typed, meant) => {
    const started = Date.now()
    const result = await runCli(args, {timeout: 20_000})
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe(`Error: ${typed} is not an auditforge command; did you mean ${meant}?\n  ${usage}\n`)
    // The plugin's prompt would wait 10 s for an answer; nothing may wait here.
    expect(Date.now() - started).toBeLessThan(8_000)
  })

  it('never shows the internal colon form, and guesses nothing when nothing is close', async () => {
    const result = await runCli(['terraform', 'apply'])
    expect(result.code).toBe(2)
    expect(result.stderr).toBe(`Error: terraform apply is not an auditforge command\n  ${usage}\n`)
    expect(result.stderr).not.toContain('terraform:apply')
  })

  it('under --json the error document carries it, with the suggestion the text shows, on stdout', async () => {
    const result = await runJson<{error: {code: string; message: string; exit: number; suggestion: string | null}}>([
      'engagment',
      'list',
    ])
    expect(result.code).toBe(2)
    expect(result.json).toEqual({
      error: {
        code: 'invalid_input',
        message: 'engagment list is not an auditforge command; did you mean engagement list?',
        exit: 2,
        suggestion: usage,
      },
    })
    expect(result.stderr).toBe('')
  })
})

describe('flags', () => {
  it.each([
    [['engagement', 'list', '--jsn'], 'Unknown flag --jsn; did you mean --json?'],
    [['bucket', 'verify', '--all', '--standrd', 'fsbp'], 'Unknown flag --standrd; did you mean --standard?'],
    [['engagement', 'create', '--nme', 'Acme'], 'Unknown flag --nme; did you mean --name?'],
    [
      ['engagement', 'create', '--name', 'Acme', '--no-isolatd'],
      'Unknown flag --no-isolatd; did you mean --no-isolated?',
    ],
    [['engagement', 'list', '--shared-buckt=platform'], 'Unknown flag --shared-buckt; did you mean --shared-bucket?'],
    [['engagement', 'list', '--xyzzy'], 'Unknown flag --xyzzy'],
    [
      ['engagement', 'list', '--jsn', '--regon', 'eu-west-1'],
      'Unknown flags: --jsn (did you mean --json?), --regon (did you mean --region?)',
    ],
    [['engagement', 'create'], 'Missing required flag --name'],
    [['migrate', 'rollback'], 'Missing required flag --engagement-id'],
    [['engagement', 'show'], 'Missing 1 required arg: engagement-id (Engagement id, e.g. eng-6715f196fa40)'],
  ])('%j: one line naming the flag with its dashes, exit 2', async (args, message) => {
    const result = await runCli(args)
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe(`Error: ${message}\n  See --help for usage.\n`)
  })

  it('under --json the suggestion is in the error document', async () => {
    const result = await runJson<{error: {message: string; exit: number}}>(['engagement', 'list', '--jsn'])
    expect(result.code).toBe(2)
    expect(result.json.error).toMatchObject({message: 'Unknown flag --jsn; did you mean --json?', exit: 2})
  })
})

describe('an engagement id where a bucket name belongs', () => {
  it('bucket verify eng-… says it is an engagement id and how to find its bucket, before any AWS call', async () => {
    // No endpoint at all: the answer cannot have come from S3.
    const result = await runCli(['bucket', 'verify', 'eng-6715f196fa40', '--shared-bucket', 'any'], {
      env: {AWS_ENDPOINT_URL: 'http://127.0.0.1:9'},
    })
    expect(result.code).toBe(5)
    // The bucket's own line says why it was not checked; the error line carries what to do.
    expect(result.stdout).toContain(
      'eng-6715f196fa40  NOT CHECKED: eng-6715f196fa40 is not a per-engagement bucket name',
    )
    expect(result.stderr).toContain('Error: 1 of 1 bucket was refused (eng-6715f196fa40)')
    expect(result.stderr).toContain(
      "  eng-6715f196fa40 is an engagement id; this takes its bucket's name, which `auditforge engagement show eng-6715f196fa40` prints.",
    )
  })
})
