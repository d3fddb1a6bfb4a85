/**
 * "Did you mean …?" for mistyped command names and flags. The distance is Levenshtein's, the
 * one @oclif/plugin-not-found uses at a terminal, so a typo gets the same answer with and
 * without one.
 */
import {distance} from 'fastest-levenshtein'

/** A name the operator could have meant, and what to suggest when it is the closest. */
export interface Candidate<T> {
  name: string
  value: T
}

/**
 * The candidate closest to what was typed, or undefined when none is close enough to be a typo
 * (at most a third of the typed length away, and always one edit): a wild guess is worse than
 * none. Ties keep the candidate listed first.
 */
export function closestMatch<T>(
  typed: string,
  candidates: Iterable<Candidate<T>>,
): {value: T; distance: number} | undefined {
  const allowed = Math.max(1, Math.floor(typed.length / 3))
  let best: {value: T; distance: number} | undefined
  for (const candidate of candidates) {
    const edits = distance(typed.toLowerCase(), candidate.name.toLowerCase())
    if (edits <= allowed && (!best || edits < best.distance)) best = {value: candidate.value, distance: edits}
  }
  return best
}

/**
 * The command an unknown id (oclif's colon form, `engagment:list:eng-1`) was meant to be: the
 * longest run of leading words that is close to a command or topic (so `engagement lst` is
 * `engagement list`, not the topic `engagement`; the words after it are arguments), or a single word that is
 * close to a command's last word (`verify` → `bucket:verify`). Returns the command or topic id
 * in colon form; the caller shows it with spaces.
 */
export function closestCommand(
  id: string,
  commandIds: readonly string[],
  topicIds: readonly string[],
): string | undefined {
  const words = id.split(':')
  const candidates: Array<Candidate<string>> = [...commandIds, ...topicIds].map((name) => ({name, value: name}))
  for (let count = words.length; count >= 1; count--) {
    const match = closestMatch(words.slice(0, count).join(':'), candidates)
    if (match) return match.value
  }
  return closestMatch(
    words[0],
    commandIds.map((command) => ({name: command.split(':').at(-1)!, value: command})),
  )?.value
}

/** Flag definitions as oclif keeps them: the name, and whether `--no-<name>` is accepted. */
export interface FlagShape {
  allowNo?: boolean
}

/**
 * The flag an unknown `--flag` (or `--flag=value`) was meant to be, with its dashes
 * (`--jsn` → `--json`, `--no-isolatd` → `--no-isolated`), or undefined.
 */
export function closestFlag(typed: string, flags: Record<string, FlagShape>): string | undefined {
  const name = typed.replace(/^-+/, '').split('=')[0]
  if (name === '') return undefined
  const names = Object.entries(flags).flatMap(([flag, shape]) => (shape.allowNo ? [flag, `no-${flag}`] : [flag]))
  const match = closestMatch(
    name,
    names.map((flag) => ({name: flag, value: flag})),
  )
  return match ? `--${match.value}` : undefined
}
