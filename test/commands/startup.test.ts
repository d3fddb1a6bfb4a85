/**
 * Start-up: help must not load the AWS SDK (the oclif manifest answers it, and command modules
 * are not imported). Timing itself is measured in bench/startup.ts, not asserted here.
 */
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {describe, expect, it} from 'vitest'

import {baseEnv, binPath} from '../helpers/cli.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

const recorder = fileURLToPath(new URL('../fixtures/import-recorder.mjs', import.meta.url))

/** Runs the CLI and returns every module URL it resolved through the ESM loader. */
function importsOf(args: string[], env: Record<string, string> = {}): {code: number | null; urls: string[]} {
  const folder = mkdtempSync(join(tmpdir(), 'af-imports-'))
  const record = join(folder, 'imports.txt')
  try {
    const result = spawnSync(process.execPath, ['--import', recorder, binPath, ...args], {
      env: {...baseEnv(), ...env, IMPORT_RECORD: record},
      encoding: 'utf8',
    })
    let urls: string[] = []
    try {
      urls = readFileSync(record, 'utf8').trim().split('\n')
    } catch {
      urls = []
    }
    return {code: result.status, urls}
  } finally {
    rmSync(folder, {recursive: true, force: true})
  }
}

describe('start-up', () => {
  it.each([
    [['--help']],
    [['engagement', 'list', '--help']],
    [['migrate', '--help']],
    [['audit-log', 'export', '--help']],
    [['bucket', '--help']],
  ])('%j does not load the AWS SDK', (args) => {
    const {code, urls} = importsOf(args)
    expect(code).toBe(0)
    expect(urls.length).toBeGreaterThan(0)
    expect(urls.filter((url) => url.includes('@aws-sdk'))).toEqual([])
  })

  it('a command that talks to S3 does load it (the recorder sees SDK imports)', async () => {
    const bucket = await createSharedBucket(testS3(), 'startup')
    const {code, urls} = importsOf(['engagement', 'list', '--shared-bucket', bucket])
    expect(code).toBe(0)
    expect(urls.some((url) => url.includes('@aws-sdk'))).toBe(true)
  })
})
