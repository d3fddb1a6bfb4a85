/**
 * Runs the real, built CLI (`bin/run.js` over `dist/`) as a subprocess against moto, the way an
 * operator or a CI job runs it: no TTY, CI=true, no stdin unless given.
 */
import {spawn} from 'node:child_process'
import {fileURLToPath} from 'node:url'

import {inject} from 'vitest'

export const binPath = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

export interface CliOptions {
  env?: Record<string, string | undefined>
  input?: string
  /** Milliseconds before the process is killed. */
  timeout?: number
}

/** The environment every CLI run gets: fake credentials, moto's endpoint (and the Batch Operations job service's for S3 Control), no TTY, CI. */
export function baseEnv(): Record<string, string> {
  const keep = ['PATH', 'HOME', 'LANG', 'TMPDIR', 'SYSTEMROOT']
  const env: Record<string, string> = {}
  for (const name of keep) if (process.env[name]) env[name] = process.env[name]!
  return {
    ...env,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL: inject('motoEndpoint'),
    AWS_ENDPOINT_URL_S3_CONTROL: inject('batchEndpoint'),
    CI: 'true',
    NO_COLOR: '1',
  }
}

export async function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const env = {...baseEnv(), ...options.env}
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name]
  const child = spawn(process.execPath, [binPath, ...args], {
    env: env as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  if (options.input !== undefined) child.stdin.end(options.input)
  else child.stdin.end()
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeout ?? 60_000)
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  clearTimeout(timer)
  return {code, stdout, stderr}
}

/** Runs the CLI with --json and parses stdout, which must be exactly one JSON document. */
export async function runJson<T = unknown>(args: string[], options: CliOptions = {}): Promise<CliResult & {json: T}> {
  const result = await runCli([...args, '--json'], options)
  let json: T
  try {
    json = JSON.parse(result.stdout) as T
  } catch {
    throw new Error(
      `stdout is not one JSON document (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`,
    )
  }
  return {...result, json}
}
