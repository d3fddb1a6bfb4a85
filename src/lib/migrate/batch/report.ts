/**
 * A Batch Operations completion report, read back: its `manifest.json` names the result CSVs,
 * and only the failed tasks are kept (bounded); every task not failed in a complete job succeeded.
 *
 * Rows are `Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage` as the
 * report's schema names them; in the rows AWS writes, the HTTP status comes before the error code,
 * so of the fifth and sixth fields the numeric one is taken as the status and the other as the code.
 */
import type {S3Client} from '@aws-sdk/client-s3'

import {AuditforgeError, ExitCode} from '../../errors.js'
import {readLines, readText} from '../../s3/index.js'
import {csvRows, decodeManifestKey} from './manifest.js'

/** Where a job's report is: the bucket and the prefix given to CreateJob. */
export interface ReportLocation {
  bucket: string
  prefix: string
}

/** One failed task, as the report gives it. */
export interface TaskFailure {
  /** S3's error code (AccessDenied, NoSuchKey, InvalidObjectState, ...); the HTTP status when there is none. */
  code: string
  status: number | null
  message: string
}

/** The report's top-level manifest.json. */
interface ReportManifest {
  Format?: string
  Results?: {TaskExecutionStatus?: string; Bucket?: string; Key?: string}[]
}

/**
 * The key of a job's report manifest: `<prefix>/job-<job id>/manifest.json`, where S3 writes it
 * (the user guide's examples); `report.json` is the name the API reference (JobReport.Prefix)
 * gives, read when there is no manifest.json.
 */
export function reportManifestKey(
  location: ReportLocation,
  jobId: string,
  name: 'manifest.json' | 'report.json' = 'manifest.json',
): string {
  return `${location.prefix.replace(/\/+$/, '')}/job-${jobId}/${name}`
}

/** Failures kept in memory at most; a job with more failed in a way a retry will not mend. */
export const maxFailures = 100_000

/** A report's failed tasks: by key, and how many failed rows it holds. */
export interface ReportFailures {
  byKey: Map<string, TaskFailure>
  /** Failed rows in the report (a key may be in `byKey` twice, decoded and as written). */
  count: number
}

/**
 * The failed tasks of a job, by key (the key decoded as in the manifest, and as written, in case
 * a report carries keys unencoded). Throws when the report is missing or holds more than
 * `limit` failures: the report's own location is in the message.
 */
export async function readFailures(
  s3: S3Client,
  location: ReportLocation,
  jobId: string,
  limit = maxFailures,
): Promise<ReportFailures> {
  const key = reportManifestKey(location, jobId)
  const stored =
    (await readText(s3, {bucket: location.bucket, key}, 'Reading the Batch Operations completion report')) ??
    (await readText(
      s3,
      {bucket: location.bucket, key: reportManifestKey(location, jobId, 'report.json')},
      'Reading the Batch Operations completion report',
    ))
  if (!stored) {
    throw new AuditforgeError(
      `Batch Operations job ${jobId} finished without a completion report at s3://${location.bucket}/${key}`,
      {
        code: 'batch_report_missing',
        exit: ExitCode.failed,
        suggestion:
          'Check that the role can write to the report bucket (auditforge migrate batch-role), then run the migration again.',
      },
    )
  }
  const manifest = JSON.parse(stored.text) as ReportManifest
  const failures = new Map<string, TaskFailure>()
  let count = 0
  for (const result of manifest.Results ?? []) {
    if (result.TaskExecutionStatus !== 'failed' || !result.Key) continue
    const lines = readLines(
      s3,
      {bucket: result.Bucket ?? location.bucket, key: result.Key},
      'Reading the Batch Operations completion report',
    )
    for await (const row of csvRows(lines)) {
      if (row.length < 4 || row[3] !== 'failed') continue
      if (++count > limit) {
        throw new AuditforgeError(
          `Batch Operations job ${jobId} failed more than ${limit} tasks (report: s3://${location.bucket}/${key})`,
          {
            code: 'batch_tasks_failed',
            exit: ExitCode.failed,
            suggestion:
              "Read the failed tasks in the report, fix their cause (often the role's permissions), and run the migration again.",
          },
        )
      }
      const failure = taskFailure(row)
      const decoded = safeDecode(row[1])
      failures.set(decoded, failure)
      if (decoded !== row[1]) failures.set(row[1], failure)
    }
  }
  return {byKey: failures, count}
}

/** The status and code of a failed row, whichever order its fifth and sixth fields are in. */
export function taskFailure(row: string[]): TaskFailure {
  const [fifth = '', sixth = '', message = ''] = row.slice(4)
  const numeric = (text: string) => /^\d{3}$/.test(text.trim())
  const [status, code] = numeric(fifth) ? [fifth, sixth] : numeric(sixth) ? [sixth, fifth] : ['', fifth || sixth]
  return {
    code: code.trim() || (status ? `HTTP ${status.trim()}` : 'unknown'),
    status: status ? Number(status) : null,
    message: message.trim(),
  }
}

function safeDecode(key: string): string {
  try {
    return decodeManifestKey(key)
  } catch {
    return key
  }
}
