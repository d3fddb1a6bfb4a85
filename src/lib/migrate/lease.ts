/**
 * One `migrate --execute` run per engagement at a time. Two runs copying into the same bucket
 * would each verify and one would switch the record, while the other went on copying over what
 * the application writes after the switch (or created a second Batch Operations job). So a run
 * takes a lease before it copies: an object beside the index, created with If-None-Match, renewed
 * with If-Match while the run lasts, checked before every copy and renewed once more right before
 * the switch, and deleted at the end.
 *
 * A run that was killed leaves its lease. The next run takes it over at once when it is on the
 * same host and the holder's process is gone; otherwise once the lease has not been renewed for
 * `staleAfterMs` (the message says when).
 */
import {hostname} from 'node:os'

import {DeleteObjectCommand, type S3Client} from '@aws-sdk/client-s3'

import {AuditforgeError, ExitCode, attempt} from '../errors.js'
import {leaseKeys} from '../layout.js'
import {readText, writeConditionally} from '../s3/index.js'

export interface LeaseHolder {
  run_id: string
  operator: string
  host: string
  pid: number
  acquired_at: string
  renewed_at: string
}

export interface LeaseOptions {
  now?: () => Date
  /** How often the lease is renewed while held (default 60 s). */
  renewEveryMs?: number
  /** A lease not renewed for this long is stale, and another run may take it (default 5 min). */
  staleAfterMs?: number
  /** Whether a process of this host is still running; injectable for tests. */
  isAlive?: (pid: number) => boolean
}

const defaults = {renewEveryMs: 60_000, staleAfterMs: 5 * 60_000}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export class MigrationLease {
  private etag: string | undefined
  private lost: AuditforgeError | undefined
  private timer: NodeJS.Timeout | undefined
  private lastRenewed: number

  private constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly engagementId: string,
    private holder: LeaseHolder,
    private readonly options: Required<LeaseOptions>,
  ) {
    this.lastRenewed = options.now().getTime()
  }

  /**
   * Takes the engagement's lease for a run, or refuses (exit 6, `migration_in_progress`) when
   * another run holds it; then renews it in the background until released.
   */
  static async acquire(
    s3: S3Client,
    sharedBucket: string,
    engagementId: string,
    run: {runId: string; operator: string},
    options: LeaseOptions = {},
  ): Promise<MigrationLease> {
    const settings: Required<LeaseOptions> = {now: () => new Date(), isAlive: processAlive, ...defaults, ...options}
    const at = settings.now().toISOString()
    const holder: LeaseHolder = {run_id: run.runId, operator: run.operator, host: hostname(), pid: process.pid, acquired_at: at, renewed_at: at}
    const lease = new MigrationLease(s3, sharedBucket, engagementId, holder, settings)
    await lease.write((current) => {
      if (current === undefined || current.holder.run_id === run.runId) return true
      if (lease.mayTakeOver(current.holder)) return true
      throw lease.heldBy(current.holder)
    })
    lease.timer = setInterval(() => void lease.renew().catch(() => {}), settings.renewEveryMs)
    lease.timer.unref()
    return lease
  }

  private get key(): string {
    return leaseKeys.migration(this.engagementId)
  }

  /** A holder that is gone: its process ended on this host, or it stopped renewing long enough ago. */
  private mayTakeOver(other: LeaseHolder): boolean {
    if (other.host === this.holder.host && other.pid !== process.pid && !this.options.isAlive(other.pid)) return true
    return this.options.now().getTime() - Date.parse(other.renewed_at) >= this.options.staleAfterMs
  }

  private heldBy(other: LeaseHolder): AuditforgeError {
    const idle = Math.max(0, Math.round((this.options.now().getTime() - Date.parse(other.renewed_at)) / 1000))
    const staleIn = Math.max(0, Math.ceil((this.options.staleAfterMs / 1000 - idle) / 60))
    return new AuditforgeError(
      `Another migrate run (${other.run_id}, by ${other.operator} on ${other.host}, pid ${other.pid}) is working on ${this.engagementId} (last renewed ${idle} s ago); this run copied nothing`,
      {
        code: 'migration_in_progress',
        exit: ExitCode.conflict,
        suggestion: `Run again once it has finished. If that run was killed, its lease expires ${staleIn > 0 ? `in about ${staleIn} min` : 'now'} (or at once for a run again on ${other.host}).`,
      },
    )
  }

  /** Writes the lease as this run's if `mayWrite` allows, given what is there now; conditional on what was read. */
  private async write(mayWrite: (current: {holder: LeaseHolder; etag?: string} | undefined) => boolean): Promise<void> {
    const location = {bucket: this.bucket, key: this.key}
    const outcome = await writeConditionally(this.s3, {bucket: this.bucket, action: 'Writing the migration lease', subject: `The migration lease s3://${this.bucket}/${this.key}`}, async () => {
      const stored = await readText(this.s3, location, 'Reading the migration lease')
      const current = stored ? {holder: JSON.parse(stored.text) as LeaseHolder, etag: stored.etag} : undefined
      // Our own write already in place (an answer that was lost): nothing to write.
      if (current && current.holder.run_id === this.holder.run_id && current.holder.renewed_at === this.holder.renewed_at) {
        this.etag = current.etag
        return undefined
      }
      if (!mayWrite(current)) return undefined
      return {key: this.key, body: `${JSON.stringify(this.holder, null, 2)}\n`, contentType: 'application/json', ifMatch: current?.etag}
    })
    if (outcome.etag) this.etag = outcome.etag
    this.lastRenewed = this.options.now().getTime()
  }

  /**
   * Renews the lease; throws (and every later check does) when another run has taken it over,
   * which it may only do once this one stopped renewing for `staleAfterMs`.
   */
  async renew(): Promise<void> {
    if (this.lost) throw this.lost
    this.holder = {...this.holder, renewed_at: this.options.now().toISOString()}
    try {
      await this.write((current) => {
        if (current?.holder.run_id === this.holder.run_id) return true
        throw (this.lost = this.takenOver(current?.holder))
      })
    } catch (error) {
      // A renewal that could not be made: lost once another run may have taken the lease over.
      if (!this.lost && this.options.now().getTime() - this.lastRenewed >= this.options.staleAfterMs / 2) this.lost = this.takenOver(undefined)
      throw this.lost ?? error
    }
  }

  private takenOver(other: LeaseHolder | undefined): AuditforgeError {
    return new AuditforgeError(
      `This run lost its lease on ${this.engagementId}${other ? ` to run ${other.run_id} (${other.operator} on ${other.host})` : ' (it could not be renewed)'}; it stopped before copying or switching anything more`,
      {code: 'migration_lease_lost', exit: ExitCode.conflict, suggestion: 'Run the migration again once the other run has finished; what was copied is proven or copied again.'},
    )
  }

  /** Throws when the lease is known lost; cheap, called before every copy. */
  assertHeld(): void {
    if (this.lost) throw this.lost
  }

  /** Stops renewing and deletes the lease if it is still this run's. Never throws. */
  async release(): Promise<void> {
    clearInterval(this.timer)
    try {
      const stored = await readText(this.s3, {bucket: this.bucket, key: this.key}, 'Reading the migration lease')
      if (!stored || (JSON.parse(stored.text) as LeaseHolder).run_id !== this.holder.run_id) return
      await attempt({action: 'Releasing the migration lease', bucket: this.bucket, key: this.key}, () => this.s3.send(new DeleteObjectCommand({Bucket: this.bucket, Key: this.key})))
    } catch {
      // A lease left behind expires on its own; the run's outcome stands.
    }
  }
}
