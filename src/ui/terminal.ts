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
 * Characters that must never reach a terminal from data: C0 controls (ESC starts escape
 * sequences, BEL ends OSC titles, CR rewrites the current line), DEL, C1 controls (U+009B is an
 * 8-bit CSI, U+009D an 8-bit OSC), the Unicode line and paragraph separators, and the bidi
 * embeddings, overrides and isolates that reorder what is shown (Trojan-source style: a bucket
 * name that reads differently from what it is).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point: they are what must not reach the terminal
const unsafe = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

export interface SanitizeOptions {
  /**
   * Let `\n` through. Only for text whose line breaks are our own layout (a rendered plan or
   * table) and whose values were each sanitised without this option when they were put in.
   */
  keepNewlines?: boolean
}

/**
 * The one sanitiser for everything printed for a person. Text from S3 or the index (keys, bucket
 * names, record fields, servers' error messages: anyone could have written them) becomes safe to
 * print: every unsafe character becomes a visible `\u001b`-style escape instead of reaching the
 * terminal. Printable text, including non-Latin scripts, is left as it is.
 *
 * It is not for `--json` (the serializer escapes) nor for the streamed audit-log export (the
 * data itself, byte-exact).
 */
export function sanitize(text: unknown, options: SanitizeOptions = {}): string {
  return String(text ?? '').replace(unsafe, (char) =>
    char === '\n' && options.keepNewlines ? char : `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

/**
 * Output a renderer has already made safe, value by value, and that may carry our own escape
 * sequences (a table's bold heading on a colour terminal). The output chokepoint prints it as it
 * is; every plain string it gets is sanitised there instead.
 */
export class Rendered {
  constructor(readonly text: string) {}

  toString(): string {
    return this.text
  }
}
