/**
 * Progress of a long copy on stderr. On a terminal that can be redrawn: one line with the phase,
 * objects and bytes, and a rate and ETA once they mean something. Without one (CI, a pipe,
 * NO_COLOR, TERM=dumb): a plain line every few seconds, never more often. Either way a summary
 * line when it is done. With `--progress ndjson`: one JSON object a line instead, for machines.
 * Nothing at all under --json unless ndjson was asked for.
 */
import {formatBytes, plural} from './format.js'
import {canAnimate, sanitize} from './terminal.js'
import {cutText, textWidth} from './table.js'

export interface ProgressSnapshot {
  label: string
  /** Where the work is: provision, list, copy, verify, record. */
  phase?: string
  /** More about the phase (a Batch Operations job and its status). */
  detail?: string
  engagementId?: string
  objectsDone: number
  objectsTotal: number
  bytesDone: number
  bytesTotal: number
  /** Objects that failed so far (a Batch Operations job's failed tasks); shown when more than 0. */
  failed?: number
  /** An estimate of the time left from whoever does the work (a Batch Operations job); else from the rate. */
  remainingSeconds?: number
}

export interface Rate {
  objectsPerSecond: number
  bytesPerSecond: number
}

export interface ProgressDisplay {
  update(snapshot: ProgressSnapshot): void
  /** The summary line (or the final ndjson event). */
  done(): void
  /** The last snapshot seen, for a line on interruption. */
  readonly last: ProgressSnapshot | undefined
  /** Takes the redrawn line off the terminal before something else is written. */
  clear(): void
}

/**
 * A rate over the last `windowMs` only, so a slow start or a pause long ago does not distort it.
 * Undefined until it means something: samples spanning at least `minSpanMs`, at least
 * `minSamples` of them, and work actually done in the window.
 */
export class RateWindow {
  private samples: {at: number; objects: number; bytes: number}[] = []

  constructor(
    private readonly windowMs = 20_000,
    private readonly minSpanMs = 3000,
    private readonly minSamples = 3,
  ) {}

  add(at: number, objects: number, bytes: number): void {
    const last = this.samples.at(-1)
    // Counters that go back (a new pass counted afresh) start the window over.
    if (last && (objects < last.objects || bytes < last.bytes)) this.samples = []
    this.samples.push({at, objects, bytes})
    // Keep one sample older than the window, so the window is always fully covered.
    while (this.samples.length > 2 && this.samples[1].at <= at - this.windowMs) this.samples.shift()
  }

  rate(): Rate | undefined {
    if (this.samples.length < this.minSamples) return undefined
    const first = this.samples[0]
    const last = this.samples.at(-1)!
    const span = last.at - first.at
    if (span < this.minSpanMs || last.objects === first.objects) return undefined
    return {
      objectsPerSecond: ((last.objects - first.objects) * 1000) / span,
      bytesPerSecond: ((last.bytes - first.bytes) * 1000) / span,
    }
  }
}

export function formatDuration(seconds: number): string {
  if (seconds < 10) return `${Math.max(0, seconds).toFixed(1)}s`
  if (seconds < 60) return `${Math.round(seconds)}s`
  const minutes = Math.floor(seconds / 60)
  return minutes < 60
    ? `${minutes}m${String(Math.floor(seconds % 60)).padStart(2, '0')}s`
    : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`
}

/** Seconds left at this rate (bytes when there are bytes to go, else objects); undefined without a rate. */
export function estimateRemaining(snapshot: ProgressSnapshot, rate: Rate | undefined): number | undefined {
  if (snapshot.remainingSeconds !== undefined) return snapshot.remainingSeconds
  if (!rate) return undefined
  const bytesLeft = snapshot.bytesTotal - snapshot.bytesDone
  if (bytesLeft > 0 && rate.bytesPerSecond > 0) return bytesLeft / rate.bytesPerSecond
  const objectsLeft = snapshot.objectsTotal - snapshot.objectsDone
  return rate.objectsPerSecond > 0 ? Math.max(0, objectsLeft) / rate.objectsPerSecond : undefined
}

/** Objects a second: one decimal below 10, whole above. */
const objectRate = (perSecond: number) => `${perSecond.toFixed(perSecond < 10 ? 1 : 0)} obj/s`

function heading(
  snapshot: ProgressSnapshot,
  context: (string | undefined)[] = [snapshot.phase, snapshot.detail],
): string {
  const shown = context.filter(Boolean).join(', ')
  return `${snapshot.label}${shown ? ` (${shown})` : ''}`
}

const objectAmount = (snapshot: ProgressSnapshot) =>
  `${snapshot.objectsDone}/${plural(snapshot.objectsTotal, 'object')}${snapshot.failed ? ` (${snapshot.failed} failed)` : ''}`

const byteAmount = (snapshot: ProgressSnapshot) =>
  `${formatBytes(snapshot.bytesDone)}/${formatBytes(snapshot.bytesTotal)}`

/**
 * One line of progress: phase, objects, bytes, and the rate and time left when they mean
 * something. Given a width, parts go whole until it fits, in this order: the byte rate, the
 * object rate, the bytes, the detail (engagements done, a Batch Operations job), the phase; the
 * objects and the ETA stay, so nothing is ever cut mid-word. The label is sanitised (newlines
 * too), so the line stays one line.
 */
export function describeProgress(snapshot: ProgressSnapshot, rate?: Rate, width?: number): string {
  const remaining = estimateRemaining(snapshot, rate)
  const parts: Record<'byteRate' | 'objectRate' | 'bytes' | 'detail' | 'phase', string | undefined> = {
    byteRate: rate ? `${formatBytes(rate.bytesPerSecond)}/s` : undefined,
    objectRate: rate ? objectRate(rate.objectsPerSecond) : undefined,
    bytes: byteAmount(snapshot),
    detail: snapshot.detail,
    phase: snapshot.phase,
  }
  const line = () =>
    sanitize(
      `${heading(snapshot, [parts.phase, parts.detail])}: ${[
        objectAmount(snapshot),
        parts.bytes,
        parts.objectRate,
        parts.byteRate,
        remaining === undefined ? undefined : `ETA ${formatDuration(remaining)}`,
      ]
        .filter(Boolean)
        .join(', ')}`,
    )
  for (const part of Object.keys(parts) as (keyof typeof parts)[]) {
    if (width === undefined || textWidth(line()) <= width) break
    parts[part] = undefined
  }
  return line()
}

/** The closing line: how much was done, in how long, at what average rate. */
export function describeSummary(snapshot: ProgressSnapshot, elapsedSeconds: number): string {
  const complete = snapshot.objectsDone >= snapshot.objectsTotal
  const average =
    elapsedSeconds >= 1 && snapshot.objectsDone > 0
      ? `, average ${objectRate(snapshot.objectsDone / elapsedSeconds)}, ${formatBytes(snapshot.bytesDone / elapsedSeconds)}/s`
      : ''
  const state = complete ? 'done' : `stopped${snapshot.phase ? ` in ${snapshot.phase}` : ''}`
  return sanitize(
    `${snapshot.label} ${state} in ${formatDuration(elapsedSeconds)}: ${objectAmount(snapshot)}, ${byteAmount(snapshot)}${average}`,
  )
}

/** One progress event as a JSON object (snake_case, null for what is not known yet). */
export function progressEvent(
  event: 'progress' | 'done' | 'interrupted',
  snapshot: ProgressSnapshot,
  rate: Rate | undefined,
  elapsedSeconds: number,
): Record<string, unknown> {
  const remaining = estimateRemaining(snapshot, rate)
  return {
    event,
    phase: snapshot.phase ?? null,
    engagement_id: snapshot.engagementId ?? null,
    objects_done: snapshot.objectsDone,
    objects_total: snapshot.objectsTotal,
    bytes_done: snapshot.bytesDone,
    bytes_total: snapshot.bytesTotal,
    failed: snapshot.failed ?? 0,
    rate: rate ? Number(rate.objectsPerSecond.toFixed(3)) : null,
    bytes_rate: rate ? Math.round(rate.bytesPerSecond) : null,
    eta_seconds: remaining === undefined ? null : Math.round(remaining),
    elapsed_seconds: Number(elapsedSeconds.toFixed(3)),
  }
}

export interface ProgressOptions {
  /** Lines without a terminal: at most one per this many milliseconds. */
  intervalMs?: number
  /** `ndjson`: JSON events on stderr instead of lines for people. */
  format?: 'auto' | 'ndjson'
  now?: () => number
  stream?: NodeJS.WriteStream
  /** Redraw in place (default: whether the terminal allows it). */
  animate?: boolean
}

/** A progress display; `enabled` false (under --json) draws nothing unless ndjson was asked for. */
export function createProgressDisplay(enabled: boolean, options: ProgressOptions = {}): ProgressDisplay {
  const now = options.now ?? Date.now
  const stream = options.stream ?? process.stderr
  const intervalMs = options.intervalMs ?? 5000
  const started = now()
  const elapsed = () => (now() - started) / 1000
  const window = new RateWindow()
  let last: ProgressSnapshot | undefined
  const record = (snapshot: ProgressSnapshot) => {
    last = snapshot
    // Rates are for copying: provisioning and verifying move no bytes.
    if (snapshot.phase === undefined || snapshot.phase === 'copy')
      window.add(now(), snapshot.objectsDone, snapshot.bytesDone)
  }
  const rate = () => (last?.phase === undefined || last.phase === 'copy' ? window.rate() : undefined)

  if (options.format === 'ndjson') {
    let lastAt = Number.NEGATIVE_INFINITY
    let lastPhase: string | undefined
    // The closing event carries the run's average rate, as the closing line does.
    const average = (snapshot: ProgressSnapshot): Rate | undefined =>
      elapsed() > 0
        ? {objectsPerSecond: snapshot.objectsDone / elapsed(), bytesPerSecond: snapshot.bytesDone / elapsed()}
        : undefined
    const emit = (event: 'progress' | 'done', snapshot: ProgressSnapshot) =>
      stream.write(
        `${JSON.stringify(progressEvent(event, snapshot, event === 'done' ? average(snapshot) : rate(), elapsed()))}\n`,
      )
    return {
      get last() {
        return last
      },
      update(snapshot) {
        record(snapshot)
        // A phase change at once; otherwise at most one event a second.
        if (snapshot.phase === lastPhase && now() - lastAt < 1000) return
        lastAt = now()
        lastPhase = snapshot.phase
        emit('progress', snapshot)
      },
      done() {
        if (last) emit('done', last)
      },
      clear() {},
    }
  }

  if (!enabled) {
    return {
      get last() {
        return last
      },
      update: record,
      done() {},
      clear() {},
    }
  }

  if (options.animate ?? canAnimate()) {
    let drawnAt = Number.NEGATIVE_INFINITY
    let drawn = false
    const clear = () => {
      if (drawn) stream.write('\r\u001b[K')
      drawn = false
    }
    return {
      get last() {
        return last
      },
      update(snapshot) {
        record(snapshot)
        if (now() - drawnAt < 100 && snapshot.objectsDone < snapshot.objectsTotal) return
        drawnAt = now()
        const width = (stream.columns || 80) - 1
        // The CR and erase-line are ours, to redraw; the text after them is sanitised.
        // A line still too wide after every part that may go is gone is cut at the edge (the label alone is wider).
        stream.write(`\r\u001b[K${cutText(describeProgress(snapshot, rate(), width), width)}`)
        drawn = true
      },
      done() {
        clear()
        if (last) stream.write(`${describeSummary(last, elapsed())}\n`)
      },
      clear,
    }
  }

  // Plain lines: the first after one interval (a run shorter than that gets only the summary).
  let lineAt = started
  return {
    get last() {
      return last
    },
    update(snapshot) {
      record(snapshot)
      if (now() - lineAt < intervalMs) return
      lineAt = now()
      stream.write(`${describeProgress(snapshot, rate())}\n`)
    },
    done() {
      if (last) stream.write(`${describeSummary(last, elapsed())}\n`)
    },
    clear() {},
  }
}

/** A command line as a shell reads it back: plain words as they are, anything else single-quoted. */
export function shellCommand(words: string[]): string {
  return words.map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)).join(' ')
}

/** Where a multi-engagement run stands when it is interrupted. */
export interface RunState {
  engagements: number
  /** Finished and switched to their own buckets. */
  switched: string[]
  /** Finished without switching (a failure or a difference). */
  notSwitched: string[]
  /** Were writing their record when interrupted: the switch may or may not have landed. */
  switching: string[]
}

const someIds = (ids: string[]) =>
  ids.length > 5 ? `${ids.slice(0, 5).join(', ')} and ${ids.length - 5} more` : ids.join(', ')

/** The signals a run stops on: Ctrl-C, `kill`/`timeout`/a cancelled CI job, a dropped session (ECS Exec, ssh). */
export const stopSignals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
export type StopSignal = (typeof stopSignals)[number]

/** The shell's code for a process ended by a signal: 128 + its number (130, 143, 129). */
const signalExitCodes = {SIGINT: 130, SIGTERM: 143, SIGHUP: 129} as const satisfies Record<StopSignal, number>
export const signalExitCode = (signal: StopSignal): 130 | 143 | 129 => signalExitCodes[signal]

/**
 * What is printed when a run is stopped: a line saying what is complete (the engagements
 * switched included), then the command that resumes on a line of its own, so a terminal never
 * wraps it in the middle of a word after the sentence.
 */
export function describeInterruption(
  snapshot: ProgressSnapshot | undefined,
  resume: string,
  state?: RunState,
  signal: StopSignal = 'SIGINT',
): {line: string; resume: string} {
  const done = snapshot
    ? `${snapshot.phase ? `in ${snapshot.phase}, ` : ''}${snapshot.objectsDone}/${plural(snapshot.objectsTotal, 'object')} (${formatBytes(snapshot.bytesDone)}/${formatBytes(snapshot.bytesTotal)}) done`
    : 'before any object was done'
  const parts = [`${signal === 'SIGINT' ? 'Interrupted' : `Stopped by ${signal}`} ${done}`]
  if (state && state.switched.length > 0)
    parts.push(
      `${state.switched.length} of ${plural(state.engagements, 'engagement')} switched to ${state.switched.length === 1 ? 'its own bucket' : 'their own buckets'}: ${someIds(state.switched)}`,
    )
  if (state && state.notSwitched.length > 0)
    parts.push(`finished without switching (see the re-run): ${someIds(state.notSwitched)}`)
  if (state && state.switching.length > 0)
    parts.push(
      `${someIds(state.switching)} ${state.switching.length === 1 ? 'was' : 'were'} writing the record: the re-run finds whether the switch landed`,
    )
  const other = state && (state.switched.length > 0 || state.switching.length > 0) ? 'no other record' : 'no record'
  parts.push(`copies made so far are kept and ${other} was switched for an unfinished engagement`)
  return {line: sanitize(`${parts.join('; ')}.`), resume: sanitize(`Resume with: ${resume}`)}
}

/**
 * Until the returned function is called, Ctrl-C (SIGINT), SIGTERM and SIGHUP take the progress
 * line off the terminal, print what is complete and the command that resumes, and exit with the
 * shell's code for the signal (130, 143, 129). With ndjson progress an `interrupted` event is
 * written as well. After a SIGHUP the terminal may be gone: what cannot be written is dropped.
 */
export function exitOnInterrupt(
  progress: ProgressDisplay,
  resume: string,
  options: {
    ndjson?: boolean
    stream?: NodeJS.WriteStream
    state?: () => RunState
    /** Called before the process exits (a command under --json prints its document on stdout). */
    report?: (stopped: {line: string; resume: string; signal: StopSignal; exit: 130 | 143 | 129}) => void
  } = {},
): () => void {
  const stream = options.stream ?? process.stderr
  const started = Date.now()
  const write = (text: string) => {
    try {
      stream.write(text)
    } catch {
      // The session that would read it is gone.
    }
  }
  const onSignal = (signal: StopSignal) => {
    progress.clear()
    const state = options.state?.()
    if (options.ndjson && progress.last)
      write(
        `${JSON.stringify({
          ...progressEvent('interrupted', progress.last, undefined, (Date.now() - started) / 1000),
          signal,
          ...(state
            ? {
                engagements_switched: state.switched,
                engagements_not_switched: state.notSwitched,
                engagements_switching: state.switching,
              }
            : {}),
        })}\n`,
      )
    const stopped = describeInterruption(progress.last, resume, state, signal)
    write(`${stopped.line}\n${stopped.resume}\n`)
    const exit = signalExitCode(signal)
    options.report?.({...stopped, signal, exit})
    process.exit(exit)
  }
  for (const signal of stopSignals) process.once(signal, onSignal)
  return () => {
    for (const signal of stopSignals) process.off(signal, onSignal)
  }
}
