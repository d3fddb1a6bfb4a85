import {describe, expect, it} from 'vitest'

import {renderBatch} from '../../src/ui/migration.js'
import {describeProgress} from '../../src/ui/progress.js'

describe('describeProgress', () => {
  const snapshot = {label: 'Migrating', objectsDone: 50, objectsTotal: 200, bytesDone: 500, bytesTotal: 2000}

  it('estimates the time left from the rate when nobody else does', () => {
    expect(describeProgress(snapshot, 10)).toBe('Migrating: 50/200 objects, 500 B/1.95 KiB, 5 obj/s, 50 B/s, ETA 30s')
  })

  it('shows a Batch Operations job\'s failed tasks and its own estimate of the time left', () => {
    const line = describeProgress({...snapshot, label: 'Migrating (S3 Batch Operations job j-1: Active)', failed: 3, remainingSeconds: 125}, 10)
    expect(line).toBe('Migrating (S3 Batch Operations job j-1: Active): 50/200 objects (3 failed), 500 B/1.95 KiB, 5 obj/s, 50 B/s, ETA 2m05s')
  })
})

describe('renderBatch', () => {
  const batch = {engine: 'batch' as const, job_id: 'j-1', reattached: false, tasks: 10, succeeded: 8, failed: 2, retried_locally: 2, copied_locally: 1}
  it('says what the job did and what the local engine copied beside it', () => {
    expect(renderBatch('eng-1', batch)).toBe('eng-1: S3 Batch Operations job j-1: 8 of 10 tasks succeeded, 2 failed, 2 retried by the local engine; 1 object copied by the local engine')
    expect(renderBatch('eng-1', {...batch, job_id: null, tasks: 0, succeeded: 0, failed: 0, retried_locally: 0, copied_locally: 0})).toBe('eng-1: no S3 Batch Operations job was needed; 0 objects copied by the local engine')
  })
})
