import {describe, expect, it} from 'vitest'

import {renderBatch} from '../../src/ui/migration.js'
import {
  RateWindow,
  type ProgressSnapshot,
  createProgressDisplay,
  describeInterruption,
  describeProgress,
  describeSummary,
  shellCommand,
} from '../../src/ui/progress.js'

/** A stream that keeps what is written, and a clock the test moves. */
function harness() {
  const written: string[] = []
  let time = 1_000_000
  const stream = {write: (chunk: string) => written.push(chunk) > 0, columns: 80} as unknown as NodeJS.WriteStream
  return {written, stream, now: () => time, advance: (ms: number) => (time += ms)}
}

const snapshot = (objectsDone: number, bytesDone = objectsDone * 10, phase = 'copy'): ProgressSnapshot => ({
  label: 'Migrating',
  phase,
  objectsDone,
  objectsTotal: 200,
  bytesDone,
  bytesTotal: 2000,
})

describe('describeProgress', () => {
  it('says the phase and the amounts, and no rate or ETA until there is one', () => {
    expect(describeProgress(snapshot(0, 0, 'provision'))).toBe('Migrating (provision): 0/200 objects, 0 B/1.95 KiB')
    expect(describeProgress(snapshot(50, 500))).toBe('Migrating (copy): 50/200 objects, 500 B/1.95 KiB')
  })

  it('estimates the time left from the byte rate when it has one', () => {
    expect(describeProgress(snapshot(50, 500), {objectsPerSecond: 5, bytesPerSecond: 50})).toBe(
      'Migrating (copy): 50/200 objects, 500 B/1.95 KiB, 5.0 obj/s, 50 B/s, ETA 30s',
    )
  })

  it("shows a Batch Operations job's failed tasks and its own estimate of the time left", () => {
    const line = describeProgress({
      ...snapshot(50, 500),
      detail: 'S3 Batch Operations job j-1: Active',
      failed: 3,
      remainingSeconds: 125,
    })
    expect(line).toBe(
      'Migrating (copy, S3 Batch Operations job j-1: Active): 50/200 objects (3 failed), 500 B/1.95 KiB, ETA 2m05s',
    )
  })

  it('too wide for the terminal, drops the byte rate, then the object rate, and keeps the ETA whole', () => {
    const rate = {objectsPerSecond: 177, bytesPerSecond: 17_715.2}
    const long = {...snapshot(751, 75_264), objectsTotal: 1501, bytesTotal: 150_221}
    const full = describeProgress(long, rate)
    expect(full).toBe('Migrating (copy): 751/1501 objects, 73.5 KiB/146.7 KiB, 177 obj/s, 17.3 KiB/s, ETA 4.2s')
    expect(describeProgress(long, rate, full.length)).toBe(full)
    expect(describeProgress(long, rate, 79)).toBe(
      'Migrating (copy): 751/1501 objects, 73.5 KiB/146.7 KiB, 177 obj/s, ETA 4.2s',
    )
    expect(describeProgress(long, rate, 64)).toBe('Migrating (copy): 751/1501 objects, 73.5 KiB/146.7 KiB, ETA 4.2s')
    expect(describeProgress(long, rate, 60)).toBe('Migrating (copy): 751/1501 objects, ETA 4.2s')
    // Narrower still: the bytes go, then the detail, then the phase; objects and the ETA stay whole.
    const batch = {...long, detail: '1/2 engagements done'}
    expect(describeProgress(batch, rate, 66)).toBe('Migrating (copy, 1/2 engagements done): 751/1501 objects, ETA 4.2s')
    expect(describeProgress(batch, rate, 50)).toBe('Migrating (copy): 751/1501 objects, ETA 4.2s')
    expect(describeProgress(batch, rate, 40)).toBe('Migrating: 751/1501 objects, ETA 4.2s')
  })

  it('rounds a rate under 1 KiB/s to whole bytes', () => {
    expect(describeSummary({...snapshot(200, 1016), objectsTotal: 200}, 2.338)).toBe(
      'Migrating done in 2.3s: 200/200 objects, 1016 B/1.95 KiB, average 86 obj/s, 435 B/s',
    )
  })

  it('uses singular nouns for one', () => {
    expect(describeProgress({...snapshot(1), objectsTotal: 1})).toContain('1/1 object,')
  })
})

describe('RateWindow', () => {
  it('has no rate until samples span 3 s, and then the rate of the last 20 s only', () => {
    const window = new RateWindow()
    window.add(0, 0, 0)
    window.add(1000, 100, 1000)
    window.add(2000, 200, 2000)
    expect(window.rate()).toBeUndefined()
    window.add(3000, 300, 3000)
    expect(window.rate()).toEqual({objectsPerSecond: 100, bytesPerSecond: 1000})
    // A burst long ago falls out of the window: 30 s later, 10 objects a second.
    for (let t = 4000; t <= 33_000; t += 1000) window.add(t, 300 + ((t - 3000) / 1000) * 10, 3000)
    expect(window.rate()!.objectsPerSecond).toBeCloseTo(10, 0)
  })

  it('has no rate when nothing moved in the window', () => {
    const window = new RateWindow()
    for (let t = 0; t <= 5000; t += 1000) window.add(t, 7, 70)
    expect(window.rate()).toBeUndefined()
  })
})

describe('createProgressDisplay', () => {
  it('without a terminal: no line before the first interval, then at most one per interval, then a summary', () => {
    const {written, stream, now, advance} = harness()
    const display = createProgressDisplay(true, {animate: false, stream, now, intervalMs: 5000})
    display.update(snapshot(0, 0, 'provision'))
    for (let n = 1; n <= 40; n++) {
      advance(250)
      display.update(snapshot(n * 5))
    }
    // 10 s of updates every 250 ms: one line at 5 s and one at 10 s.
    expect(written).toHaveLength(2)
    expect(written[0]).toMatch(
      /^Migrating \(copy\): 100\/200 objects, 1000 B\/1\.95 KiB, 20 obj\/s, 200 B\/s, ETA 5\.0s\n$/,
    )
    display.done()
    expect(written).toHaveLength(3)
    expect(written[2]).toBe('Migrating done in 10s: 200/200 objects, 1.95 KiB/1.95 KiB, average 20 obj/s, 200 B/s\n')
  })

  it('a run shorter than the interval prints only the summary, never "0/N … ETA ?"', () => {
    const {written, stream, now, advance} = harness()
    const display = createProgressDisplay(true, {animate: false, stream, now})
    display.update({...snapshot(0), objectsTotal: 2, bytesTotal: 20})
    advance(300)
    display.update({...snapshot(2, 20, 'record'), objectsTotal: 2, bytesTotal: 20})
    display.done()
    expect(written).toEqual(['Migrating done in 0.3s: 2/2 objects, 20 B/20 B\n'])
  })

  it('on a terminal: redraws one line, hides the ETA at first, and ends with the summary', () => {
    const {written, stream, now, advance} = harness()
    const display = createProgressDisplay(true, {animate: true, stream, now})
    display.update(snapshot(10))
    expect(written[0]).toBe('\r\u001b[KMigrating (copy): 10/200 objects, 100 B/1.95 KiB')
    for (let n = 2; n <= 10; n++) {
      advance(1000)
      display.update(snapshot(n * 10))
    }
    expect(written.at(-1)).toMatch(/^\r\u001b\[KMigrating \(copy\): 100\/200 objects, .* 10 obj\/s, 100 B\/s, ETA 10s$/)
    display.done()
    expect(written.at(-2)).toBe('\r\u001b[K')
    expect(written.at(-1)).toMatch(/^Migrating stopped in copy in 9\.0s: 100\/200 objects/)
  })

  it('ndjson: one JSON object per event, a phase change at once, otherwise at most one a second, and a done event', () => {
    const {written, stream, now, advance} = harness()
    const display = createProgressDisplay(false, {format: 'ndjson', stream, now})
    display.update(snapshot(0, 0, 'provision'))
    display.update(snapshot(0, 0, 'copy'))
    for (let n = 1; n <= 8; n++) {
      advance(500)
      display.update(snapshot(n * 10))
    }
    display.update(snapshot(200, 2000, 'verify'))
    display.done()
    const events = written.map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(written.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n'))).toBe(true)
    expect(events.map((event) => event.phase)).toEqual([
      'provision',
      'copy',
      'copy',
      'copy',
      'copy',
      'copy',
      'verify',
      'verify',
    ])
    expect(events.at(-1)).toMatchObject({
      event: 'done',
      objects_done: 200,
      objects_total: 200,
      bytes_done: 2000,
      bytes_total: 2000,
      // The run's average, as the closing line says it: 200 objects in 4 s.
      rate: 50,
      bytes_rate: 500,
    })
    expect(Object.keys(events[0])).toEqual(
      expect.arrayContaining([
        'phase',
        'objects_done',
        'objects_total',
        'bytes_done',
        'bytes_total',
        'rate',
        'eta_seconds',
      ]),
    )
    expect(events[0].rate).toBeNull()
    expect(events[0].eta_seconds).toBeNull()
    // After 3 s of copying: 20 objects a second.
    expect(events[5]).toMatchObject({phase: 'copy', rate: 20, eta_seconds: 6})
  })

  it('under --json without ndjson: nothing at all', () => {
    const {written, stream, now} = harness()
    const display = createProgressDisplay(false, {stream, now})
    display.update(snapshot(5))
    display.done()
    expect(written).toEqual([])
    expect(display.last?.objectsDone).toBe(5)
  })
})

describe('summary and interruption lines', () => {
  it('a summary says where a run stopped when it did not finish', () => {
    expect(describeSummary(snapshot(50, 500, 'verify'), 2)).toBe(
      'Migrating stopped in verify in 2.0s: 50/200 objects, 500 B/1.95 KiB, average 25 obj/s, 250 B/s',
    )
  })

  it('the interruption line says what is done and the exact command to resume', () => {
    const stopped = describeInterruption(
      snapshot(50, 500),
      shellCommand(['auditforge', 'migrate', '--execute', '--yes', '--shared-bucket', "it's odd"]),
    )
    expect(stopped).toEqual({
      line: 'Interrupted in copy, 50/200 objects (500 B/1.95 KiB) done; copies made so far are kept and no record was switched for an unfinished engagement.',
      resume: "Resume with: auditforge migrate --execute --yes --shared-bucket 'it'\\''s odd'",
    })
    expect(describeInterruption(undefined, 'auditforge migrate').line).toContain('before any object was done')
    // Stopped by another signal: named.
    expect(describeInterruption(snapshot(50, 500), 'auditforge migrate', undefined, 'SIGTERM').line).toMatch(
      /^Stopped by SIGTERM in copy, 50\/200 objects/,
    )
    // Several engagements: which switched, which ended without switching, which was writing its record.
    expect(
      describeInterruption(snapshot(50, 500), 'auditforge migrate --execute --yes', {
        engagements: 9,
        switched: ['eng-000000000001', 'eng-000000000002'],
        notSwitched: ['eng-000000000003'],
        switching: ['eng-000000000004'],
      }).line,
    ).toBe(
      'Interrupted in copy, 50/200 objects (500 B/1.95 KiB) done; 2 of 9 engagements switched to their own buckets: eng-000000000001, eng-000000000002; finished without switching (see the re-run): eng-000000000003; eng-000000000004 was writing the record: the re-run finds whether the switch landed; copies made so far are kept and no other record was switched for an unfinished engagement.',
    )
  })
})

describe('renderBatch', () => {
  const batch = {
    engine: 'batch' as const,
    job_id: 'j-1',
    reattached: false,
    tasks: 10,
    succeeded: 8,
    failed: 2,
    retried_locally: 2,
    copied_locally: 1,
  }
  it('says what the job did and what the local engine copied beside it', () => {
    expect(renderBatch('eng-1', batch)).toBe(
      'eng-1: S3 Batch Operations job j-1: 8 of 10 tasks succeeded, 2 failed, 2 retried by the local engine; 1 object copied by the local engine',
    )
    expect(
      renderBatch('eng-1', {
        ...batch,
        job_id: null,
        tasks: 0,
        succeeded: 0,
        failed: 0,
        retried_locally: 0,
        copied_locally: 0,
      }),
    ).toBe('eng-1: no S3 Batch Operations job was needed; 0 objects copied by the local engine')
  })
})
