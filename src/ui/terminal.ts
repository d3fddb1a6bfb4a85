/**
 * What the terminal allows: prompting, colour, spinners. "Can prompt" is one function, so every
 * command agrees on when a person is there to answer.
 */

/** CI is set by every CI system; `CI=false` or `CI=0` switch it off again. */
export function isCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.CI
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false'
}

/** A person can answer a y/N question: not CI, stdin a TTY, and a TTY to ask on (stderr). */
export function canPrompt(): boolean {
  return !isCI() && Boolean(process.stdin.isTTY) && Boolean(process.stderr.isTTY)
}

/** Colour only on a TTY, and never when NO_COLOR is set (https://no-color.org). */
export function useColor(stream: NodeJS.WriteStream): boolean {
  return Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb'
}

/**
 * Spinners and live progress only where they can be redrawn: stderr a TTY, not CI. NO_COLOR
 * also turns them off, since redrawing is escape sequences too; progress then comes as lines.
 */
export function canAnimate(): boolean {
  return Boolean(process.stderr.isTTY) && !isCI() && process.env.TERM !== 'dumb' && !process.env.NO_COLOR
}

/**
 * Makes text from the index (names, client ids: anyone could have written them) safe to print:
 * control characters, including the ESC that starts terminal escape sequences, become visible
 * `\u001b`-style escapes instead of reaching the terminal.
 */
export function sanitize(text: unknown): string {
  return String(text ?? '').replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
}
