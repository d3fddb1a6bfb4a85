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
 * A spinner on stderr when it is a TTY (and not CI, not --json); otherwise silent. Its texts name
 * buckets and keys, so each is sanitised here, once for every caller; a spinner is one line, so
 * newlines are escaped too.
 */
export function createSpinner(enabled: boolean): Spinner {
  if (!enabled || !canAnimate()) return silent
  let spinner: Ora | undefined
  return {
    start(text) {
      spinner = ora({text: sanitize(text), stream: process.stderr, discardStdin: false}).start()
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
