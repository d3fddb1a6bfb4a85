/**
 * What every `--json` document shares. The contract: keys are snake_case; a value that is absent
 * is `null`, never missing and never a placeholder string; an error is
 * `{"error": {code, message, exit, suggestion}}`; a command that reports a result and then fails
 * carries `status` and `error` beside its data, and `status` is never "ok" beside a non-zero exit.
 * Each command's result type lives in the module of its topic (engagement, bucket, migrate,
 * audit-log, doctor); `npm run schemas` turns each into `schemas/<command>.json`.
 */

/** An error under --json: the same fields a person sees on stderr. */
export interface JsonErrorBody {
  /** A stable code, e.g. `not_found`, `invalid_input`, `drift`, `verification_failed`. */
  code: string
  message: string
  /** The process's exit code. */
  exit: number
  /** What to do about it; null when there is nothing to add. */
  suggestion: string | null
}

/** The document printed under --json when a command fails before it has a result. */
export interface JsonError {
  error: JsonErrorBody
}

/**
 * The fields a command that reports a result and then may fail adds to it: `status` is the
 * failure's code when the command exits non-zero, else the command's own status (`ok`, or a
 * status of its own that is not a failure); `error` is null exactly when the exit code is 0.
 */
export interface Reported<S extends string = 'ok'> {
  status: S
  error: JsonErrorBody | null
}
