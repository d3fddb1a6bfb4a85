import ora, {type Ora} from 'ora'

import {canAnimate, sanitize} from './terminal.js'

/** The bits of a spinner commands use; a no-op where nothing may be drawn. */
export interface Spinner {
  start(text: string): void
  update(text: string): void
  succeed(text?: string): void
  fail(text?: string): void
  stop(): void
}

const silent: Spinner = {start() {}, update() {}, succeed() {}, fail() {}, stop() {}}

/**
 * Where nothing may be redrawn (no TTY, CI, NO_COLOR, TERM=dumb) a spinner says only how it
 * ended: `✔ Created …` as a plain line. A failure without text prints nothing: the error line
 * that follows says it.
 */
function plainSpinner(stream: NodeJS.WritableStream): Spinner {
  let current: string | undefined
  const line = (mark: string, text: string | undefined) => {
    if (text !== undefined && current !== undefined) stream.write(`${mark} ${sanitize(text)}\n`)
    current = undefined
  }
  return {
    start(text) {
      current = text
    },
    update(text) {
      if (current !== undefined) current = text
    },
    succeed(text) {
      line('✔', text ?? current)
    },
    fail(text) {
      line('✖', text)
    },
    stop() {
      current = undefined
    },
  }
}

/**
 * A spinner on stderr when it is a TTY that can be redrawn (not CI, NO_COLOR or TERM=dumb);
 * elsewhere plain lines for how it ended; nothing under --json. Its texts name buckets and keys,
 * so each is sanitised here, once for every caller; a spinner is one line, so newlines are
 * escaped too.
 */
export function createSpinner(enabled: boolean, stream: NodeJS.WritableStream = process.stderr): Spinner {
  if (!enabled) return silent
  if (!canAnimate()) return plainSpinner(stream)
  let spinner: Ora | undefined
  return {
    start(text) {
      // One spinner at a time: a command that checks several buckets moves the one it has on.
      if (spinner) spinner.text = sanitize(text)
      else spinner = ora({text: sanitize(text), stream: process.stderr, discardStdin: false}).start()
    },
    update(text) {
      if (spinner) spinner.text = sanitize(text)
    },
    succeed(text) {
      spinner?.succeed(text === undefined ? undefined : sanitize(text))
      spinner = undefined
    },
    fail(text) {
      spinner?.fail(text === undefined ? undefined : sanitize(text))
      spinner = undefined
    },
    stop() {
      spinner?.stop()
      spinner = undefined
    },
  }
}
