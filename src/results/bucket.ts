/** The `--json` results of the `bucket` commands. */
import type {ControlId, ControlStatus, SkippedControl, StandardName, Standards} from '../lib/buckets/controls.js'
import type {PreflightCheck} from '../lib/buckets/decommission.js'
import type {JsonErrorBody, Reported} from './common.js'

export type {PreflightCheck} from '../lib/buckets/decommission.js'
export type {SkippedControl, StandardName, Standards} from '../lib/buckets/controls.js'

/**
 * With a trail configured (--cloudtrail-trail), what became of a removed bucket's data-events
 * selector on it: `removed`, `absent` (it was not there), `only` (kept: the trail's only
 * selector), or the error that left it there.
 */
export type TrailSelectorOutcome = 'removed' | 'absent' | 'only' | {error: string}

/** `bucket provision`. */
export interface BucketProvisionResult {
  engagement_id: string
  bucket: string
  /** false when the bucket already existed (owned by this account) and was repaired. */
  created: boolean
  /** Controls that do not apply on this endpoint, with why. */
  skipped: SkippedControl[]
}

/** A real `bucket decommission`: what was removed (nothing, 0 and 0, when the preflight blocked it). */
export interface BucketDecommissioned extends Reported<'ok' | 'refused'> {
  bucket: string
  dry_run: false
  /** Object versions and delete markers deleted. */
  deleted: number
  uploads_aborted: number
  /** With --cloudtrail-trail, what became of the bucket's selector on it; null without a trail. */
  trail_selector: TrailSelectorOutcome | null
  /** The checks made, in order; a failing identity check ends them (it is the last). */
  preflight: PreflightCheck[]
}

/** `bucket decommission --dry-run`: the preflight and what would be deleted. */
export interface BucketDecommissionDryRun extends Reported<'ok' | 'refused'> {
  bucket: string
  dry_run: true
  /** The checks made, in order; a failing identity check ends them (it is the last). */
  preflight: PreflightCheck[]
  /** Object versions and delete markers that would be deleted; null when the preflight blocks it (not counted). */
  object_versions: number | null
}

/**
 * `bucket decommission`: `status` is `ok`, or `refused` (exit 5, `error` naming what blocks it)
 * when the preflight blocks the bucket, in the dry run and for real alike; the preflight is in the
 * document either way. Refused before any check (the shared bucket, a name not of the
 * per-engagement form), not found (exit 3) or bad input: the error document alone.
 */
export type BucketDecommissionResult = BucketDecommissioned | BucketDecommissionDryRun

/** One control on one bucket. */
export interface BucketControlRow {
  control: 'owner' | ControlId
  status: ControlStatus
  /** false for a failing control, true for a passing one, null for a skipped one (neither). */
  ok: boolean | null
  expected: string
  actual: string
  standards: Standards
  /** With --standard: that standard's ids for this control (possibly none); null without it. */
  standard_ids: string[] | null
}

/** One bucket checked by `bucket verify`. */
export interface BucketReport {
  bucket: string
  /** The engagement its name says; null for a name not of the per-engagement form (then `error` says so). */
  engagement_id: string | null
  /** Every control passed or was skipped (false when the bucket could not be checked). */
  ok: boolean
  /** Every control; empty when the bucket could not be checked. */
  controls: BucketControlRow[]
  /** Why `--fix` wrote nothing to this bucket (it belongs to another index, or to none); null otherwise. */
  fix_refused: string | null
  /**
   * Why this bucket could not be checked: it does not exist (`not_found`, exit 3), it was refused
   * (exit 5: not a per-engagement bucket), access to it was denied (exit 1); null when it was
   * checked. The other buckets are checked all the same.
   */
  error: JsonErrorBody | null
}

/**
 * `bucket verify`: one exit code for all the buckets, the most pressing first: 5 (`status`
 * "refused") when --fix may not touch a bucket or a bucket was refused; else 4 ("drift") when a
 * control has drifted; else 1 ("check_failed") when a bucket could not be read; else 3
 * ("not_found") when a bucket does not exist; else 0.
 */
export interface BucketVerifyResult extends Reported<'ok' | 'drift' | 'refused' | 'check_failed' | 'not_found'> {
  ok: boolean
  /** The standard the rows are labelled with (`--standard`), or null. */
  standard: StandardName | null
  buckets: BucketReport[]
}
