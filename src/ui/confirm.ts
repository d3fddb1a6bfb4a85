import {confirm} from '@inquirer/prompts'

import {AuditforgeError, ExitCode, refused} from '../lib/errors.js'
import {canPrompt, isCI, sanitize} from './terminal.js'

/**
 * The gate in front of every destructive action: `--yes` passes; a person at a terminal is
 * asked y/N (default No) on stderr; with nobody to ask it refuses with exit 5, and so does an
 * answer of no. The question names engagements and buckets, so it is sanitised here (one line).
 */
export async function confirmDestructive(question: string, yes: boolean): Promise<void> {
  if (yes) return
  assertCanConfirm(yes)
  let answer = false
  try {
    // inquirer marks an answered question with a green ✔, a "No" (a refusal) included; the mark
    // here says only that it was asked.
    answer = await confirm(
      {message: sanitize(question), default: false, theme: {prefix: {idle: '?', done: '?'}}},
      {output: process.stderr},
    )
  } catch (error) {
    // Ctrl-C or Ctrl-D at the prompt is a "no", not a crash.
    if (!(error instanceof Error && error.name === 'ExitPromptError')) throw error
  }
  if (!answer)
    throw new AuditforgeError('Not confirmed; nothing was changed', {code: 'not_confirmed', exit: ExitCode.refused})
}

/**
 * Refuses (exit 5) when confirmation is needed and nobody can give it. Destructive commands call
 * this first, so a CI job without --yes gets exit 5 before any AWS call, whatever else is wrong.
 */
export function assertCanConfirm(yes: boolean): void {
  if (!yes && !canPrompt()) {
    // Say the real reason: CI=true at a terminal is no terminal to ask on either, on purpose.
    const terminal = Boolean(process.stdin.isTTY) && Boolean(process.stderr.isTTY)
    const why = terminal && isCI() ? 'CI is set, so nobody is asked' : 'no terminal to ask on'
    throw refused(`Refusing to run a destructive command without confirmation: ${why}`, 'Pass --yes to confirm.')
  }
}
