/**
 * Runs the built CLI under a real pseudo-terminal, through util-linux's `script`, the way an
 * operator at a terminal (or in an ECS Exec session) runs it: stdin, stdout and stderr are a
 * TTY. Keystrokes are sent when the screen shows what they answer.
 */
import {spawn} from 'node:child_process'

import {baseEnv, binPath} from './cli.js'

export interface PtyStep {
  /** Wait until the output so far matches this. */
  waitFor: RegExp
  /** Then type this (`\r` is Enter, `\u0003` is Ctrl-C). */
  send: string
}

export interface PtyResult {
  code: number | null
  /** Everything the terminal showed: stdout and stderr together, escape sequences included. */
  screen: string
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`

export interface PtyOptions {
  steps?: PtyStep[]
  env?: Record<string, string | undefined>
  timeout?: number
  /** The terminal's width (default 100). */
  cols?: number
}

export async function runInPty(args: string[], options: PtyOptions = {}): Promise<PtyResult> {
  // A terminal session, not CI: the tool must see a person who can answer.
  const {CI: _ci, NO_COLOR: _noColor, ...base} = baseEnv()
  const env: Record<string, string | undefined> = {...base, TERM: 'xterm-256color', ...options.env}
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name]
  const command = [process.execPath, binPath, ...args].map((arg) => quote(arg)).join(' ')
  const child = spawn('script', ['-qefc', `stty cols ${options.cols ?? 100} rows 40; exec ${command}`, '/dev/null'], {
    env: env as NodeJS.ProcessEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let screen = ''
  const steps = [...(options.steps ?? [])]
  const advance = () => {
    while (steps.length > 0 && steps[0].waitFor.test(screen)) child.stdin.write(steps.shift()!.send)
  }
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    screen += chunk
    advance()
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (screen += chunk))
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeout ?? 60_000)
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve))
  clearTimeout(timer)
  child.stdin.destroy()
  return {code, screen}
}
