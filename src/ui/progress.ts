/**
 * Progress of a long copy on stderr: one redrawn line with objects, bytes, rate and ETA on a
 * terminal; a plain line every few seconds without one; nothing at all under --json.
 */
import {formatBytes} from './format.js'
import {canAnimate, sanitize} from './terminal.js'

export interface ProgressSnapshot {
  label: string
  objectsDone: number
  objectsTotal: number
  bytesDone: number
  bytesTotal: number
  /** Objects that failed so far (a Batch Operations job's failed tasks); shown when more than 0. */
  failed?: number
  /** An estimate of the time left from whoever does the work (a Batch Operations job); else from the rate. */
  remainingSeconds?: number
}

export interface ProgressDisplay {
  update(snapshot: ProgressSnapshot): void
  done(): void
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  if (seconds < 60) return `${Math.ceil(seconds)}s`
  const minutes = Math.floor(seconds / 60)
  return minutes < 60 ? `${minutes}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s` : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`
}

/** One line of progress; the label is sanitised (newlines too), so the line stays one line. */
export function describeProgress(snapshot: ProgressSnapshot, elapsedSeconds: number): string {
  const rate = elapsedSeconds > 0 ? snapshot.objectsDone / elapsedSeconds : 0
  const byteRate = elapsedSeconds > 0 ? snapshot.bytesDone / elapsedSeconds : 0
  const remaining =
    snapshot.remainingSeconds ??
    (byteRate > 0 ? (snapshot.bytesTotal - snapshot.bytesDone) / byteRate : rate > 0 ? (snapshot.objectsTotal - snapshot.objectsDone) / rate : Number.NaN)
  const failed = snapshot.failed ? ` (${snapshot.failed} failed)` : ''
  return `${sanitize(snapshot.label)}: ${snapshot.objectsDone}/${snapshot.objectsTotal} objects${failed}, ${formatBytes(snapshot.bytesDone)}/${formatBytes(snapshot.bytesTotal)}, ${rate.toFixed(0)} obj/s, ${formatBytes(byteRate)}/s, ETA ${formatDuration(remaining)}`
}

export function createProgressDisplay(enabled: boolean, intervalMs = 5_000): ProgressDisplay {
  if (!enabled) return {update() {}, done() {}}
  const started = Date.now()
  const elapsed = () => (Date.now() - started) / 1000
  if (canAnimate()) {
    let last = 0
    let drawn = false
    return {
      update(snapshot) {
        if (Date.now() - last < 100 && snapshot.objectsDone < snapshot.objectsTotal) return
        last = Date.now()
        const width = (process.stderr.columns || 80) - 1
        // The CR and erase-line are ours, to redraw; the text after them is sanitised.
        process.stderr.write(`\r\u001b[K${describeProgress(snapshot, elapsed()).slice(0, width)}`)
        drawn = true
      },
      done() {
        if (drawn) process.stderr.write('\r\u001b[K')
      },
    }
  }
  let lastLine = 0
  return {
    update(snapshot) {
      if (Date.now() - lastLine < intervalMs) return
      lastLine = Date.now()
      process.stderr.write(`${describeProgress(snapshot, elapsed())}\n`)
    },
    done() {},
  }
}
