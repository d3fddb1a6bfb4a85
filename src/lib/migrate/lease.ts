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
 * `staleAfterMs` by S3's clock (the object's Last-Modified against the Date of S3's answer), so
 * hosts whose clocks disagree never take over a live lease. The holder, for its part, counts
 * itself lost once it has not renewed for most of that time, on its own clock.
 */
import {hostname} from 'node:os'

import {DeleteObjectCommand, GetObjectCommand, type S3Client} from '@aws-sdk/client-s3'

import {AuditforgeError, ExitCode, attempt, awsErrorCode, describeAwsError, httpStatus} from '../errors.js'
import {leaseKeys} from '../layout.js'
import {writeConditionally} from '../s3/index.js'

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

/** The lease as stored, with S3's clock: when it was last written, and the time of the answer. */
interface StoredLease {
  holder: LeaseHolder
  etag?: string
  /** Milliseconds since the last write, by S3's clock. */
  idleMs: number
}

/** Reads the lease, and how long ago S3 says it was written (Last-Modified against the Date header of the same answer). */
async function readLease(s3: S3Client, bucket: string, key: string): Promise<StoredLease | undefined> {
  const command = new GetObjectCommand({Bucket: bucket, Key: key})
  let answeredAt: number | undefined
  command.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args)
      const date = (result.response as {headers?: Record<string, string>}).headers?.date
      if (date) answeredAt = Date.parse(date)
      return result
    },
    {step: 'deserialize', name: 'auditforgeServerDate'},
  )
  try {
    const reply = await s3.send(command)
    const holder = JSON.parse(reply.Body ? await reply.Body.transformToString('utf8') : '{}') as LeaseHolder
    const written = reply.LastModified?.getTime() ?? Date.parse(holder.renewed_at)
    return {holder, etag: reply.ETag, idleMs: Math.max(0, (answeredAt ?? Date.now()) - written)}
  } catch (error) {
    const code = awsErrorCode(error)
    if (code === 'NoSuchKey' || (httpStatus(error) === 404 && code !== 'NoSuchBucket')) return undefined
    throw describeAwsError(error, {action: 'Reading the migration lease', bucket, key})
  }
}

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
    const holder: LeaseHolder = {
      run_id: run.runId,
      operator: run.operator,
      host: hostname(),
      pid: process.pid,
      acquired_at: at,
      renewed_at: at,
    }
    const lease = new MigrationLease(s3, sharedBucket, engagementId, holder, settings)
    await lease.write((current) => {
      if (current === undefined || current.holder.run_id === run.runId) return true
      if (lease.mayTakeOver(current)) return true
      throw lease.heldBy(current)
    })
    lease.timer = setInterval(() => void lease.renew().catch(() => {}), settings.renewEveryMs)
    lease.timer.unref()
    return lease
  }

  private get key(): string {
    return leaseKeys.migration(this.engagementId)
  }

  /** A holder that is gone: its process ended on this host, or it stopped renewing long enough ago (by S3's clock). */
  private mayTakeOver(other: StoredLease): boolean {
    const holder = other.holder
    if (holder.host === this.holder.host && holder.pid !== process.pid && !this.options.isAlive(holder.pid)) return true
    return other.idleMs >= this.options.staleAfterMs
  }

  private heldBy(other: StoredLease): AuditforgeError {
    const {holder} = other
    const idle = Math.round(other.idleMs / 1000)
    const staleIn = Math.max(0, Math.ceil((this.options.staleAfterMs - other.idleMs) / 60_000))
    return new AuditforgeError(
      `Another migrate run (${holder.run_id}, by ${holder.operator} on ${holder.host}, pid ${holder.pid}) is working on ${this.engagementId} (last renewed ${idle} s ago); this run copied nothing`,
      {
        code: 'migration_in_progress',
        exit: ExitCode.conflict,
        suggestion: `Run again once it has finished. If that run was killed, its lease expires ${staleIn > 0 ? `in about ${staleIn} min` : 'now'} (or at once for a run again on ${holder.host}).`,
      },
    )
  }

  /** Writes the lease as this run's if `mayWrite` allows, given what is there now; conditional on what was read. */
  private async write(mayWrite: (current: StoredLease | undefined) => boolean): Promise<void> {
    const outcome = await writeConditionally(
      this.s3,
      {
        bucket: this.bucket,
        action: 'Writing the migration lease',
        subject: `The migration lease s3://${this.bucket}/${this.key}`,
      },
      async () => {
        const current = await readLease(this.s3, this.bucket, this.key)
        // Our own write already in place (an answer that was lost): nothing to write.
        if (
          current &&
          current.holder.run_id === this.holder.run_id &&
          current.holder.renewed_at === this.holder.renewed_at
        ) {
          this.etag = current.etag
          return undefined
        }
        if (!mayWrite(current)) return undefined
        return {
          key: this.key,
          body: `${JSON.stringify(this.holder, null, 2)}\n`,
          contentType: 'application/json',
          ifMatch: current?.etag,
        }
      },
    )
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
      if (!this.lost && this.options.now().getTime() - this.lastRenewed >= this.options.staleAfterMs / 2)
        this.lost = this.takenOver(undefined)
      throw this.lost ?? error
    }
  }

  private takenOver(other: LeaseHolder | undefined): AuditforgeError {
    return new AuditforgeError(
      `This run lost its lease on ${this.engagementId}${other ? ` to run ${other.run_id} (${other.operator} on ${other.host})` : ' (it could not be renewed)'}; it stopped before copying or switching anything more`,
      {
        code: 'migration_lease_lost',
        exit: ExitCode.conflict,
        suggestion:
          'Run the migration again once the other run has finished; what was copied is proven or copied again.',
      },
    )
  }

  /**
   * Throws when the lease is lost, or may be: known taken over, or not renewed for most of the
   * time after which another run may take it. Cheap; called before every copy and removal.
   */
  assertHeld(): void {
    if (!this.lost && this.options.now().getTime() - this.lastRenewed >= this.options.staleAfterMs * 0.75)
      this.lost = this.takenOver(undefined)
    if (this.lost) throw this.lost
  }

  /** Stops renewing and deletes the lease if it is still this run's (conditional on its ETag). Never throws. */
  async release(): Promise<void> {
    clearInterval(this.timer)
    try {
      const current = await readLease(this.s3, this.bucket, this.key)
      if (!current || current.holder.run_id !== this.holder.run_id) return
      await attempt({action: 'Releasing the migration lease', bucket: this.bucket, key: this.key}, () =>
        this.s3.send(
          new DeleteObjectCommand({
            Bucket: this.bucket,
            Key: this.key,
            ...(current.etag ? {IfMatch: current.etag} : {}),
          }),
        ),
      )
    } catch {
      // Taken over meanwhile (412): the lease is the other run's. Anything else: a lease left
      // behind expires on its own, and the run's outcome stands.
    }
  }
}
