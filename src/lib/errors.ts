/** The documented exit codes (DESIGN.md, "Exit codes"). */
export const ExitCode = {
  ok: 0,
  failed: 1,
  invalidInput: 2,
  notFound: 3,
  verificationFailed: 4,
  refused: 5,
  conflict: 6,
} as const

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

export interface ErrorOptions {
  /** Stable machine-readable code, printed under `--json`. */
  code: string
  exit: ExitCodeValue
  /** What the operator can do next, printed on its own line. */
  suggestion?: string
  cause?: unknown
}

/** Every error the library raises on purpose: a one-line message, an exit code, a hint. */
export class AuditforgeError extends Error {
  readonly code: string
  readonly exit: ExitCodeValue
  readonly suggestion?: string

  constructor(message: string, options: ErrorOptions) {
    super(message, {cause: options.cause})
    this.name = 'AuditforgeError'
    this.code = options.code
    this.exit = options.exit
    this.suggestion = options.suggestion
  }
}

export function invalidInput(message: string, suggestion?: string): AuditforgeError {
  return new AuditforgeError(message, {code: 'invalid_input', exit: ExitCode.invalidInput, suggestion})
}

export function notFound(message: string, suggestion?: string): AuditforgeError {
  return new AuditforgeError(message, {code: 'not_found', exit: ExitCode.notFound, suggestion})
}

export function refused(message: string, suggestion?: string): AuditforgeError {
  return new AuditforgeError(message, {code: 'refused', exit: ExitCode.refused, suggestion})
}

/** Where an AWS call was aimed, so a failure can name the action, bucket and key. */
export interface OperationContext {
  action: string
  bucket?: string
  key?: string
}

interface AwsErrorShape {
  name?: string
  Code?: string
  code?: string
  message?: string
  $metadata?: {httpStatusCode?: number}
  $retryable?: unknown
}

/** The S3 error code of an SDK error, whichever field the SDK put it in. */
export function awsErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const shape = error as AwsErrorShape
  return shape.Code ?? shape.name ?? shape.code
}

export function httpStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  return (error as AwsErrorShape).$metadata?.httpStatusCode
}

export function isPreconditionFailure(error: unknown): boolean {
  const code = awsErrorCode(error)
  const status = httpStatus(error)
  return (
    code === 'PreconditionFailed' ||
    code === 'ConditionalRequestConflict' ||
    status === 412 ||
    (status === 409 && code !== 'BucketAlreadyExists' && code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketNotEmpty')
  )
}

export function isNotFound(error: unknown): boolean {
  const code = awsErrorCode(error)
  return code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchBucket' || httpStatus(error) === 404
}

export function isAccessDenied(error: unknown): boolean {
  const code = awsErrorCode(error)
  return code === 'AccessDenied' || code === 'Forbidden' || code === 'AllAccessDisabled' || httpStatus(error) === 403
}

const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EPIPE',
  'TimeoutError',
  'RequestTimeout',
])

/**
 * Whether the request never got an answer: refused, reset, timed out, unresolvable. Node's
 * system errors are named "Error" (or "AggregateError", with an empty message) and carry the
 * errno code in `code`, which awsErrorCode never reaches.
 */
export function isNetworkError(error: unknown): boolean {
  const systemCode = (error as {code?: unknown} | null)?.code
  const detail = error instanceof Error ? error.message : String(error)
  return (
    networkCodes.has(awsErrorCode(error) ?? '') ||
    (typeof systemCode === 'string' && networkCodes.has(systemCode)) ||
    /ECONNREFUSED|ECONNRESET|ENOTFOUND|ETIMEDOUT|EAI_AGAIN|EPIPE|socket hang up/.test(detail)
  )
}

function where(context: OperationContext): string {
  if (context.bucket && context.key) return ` s3://${context.bucket}/${context.key}`
  if (context.bucket) return ` s3://${context.bucket}`
  return ''
}

/**
 * Turns anything thrown by an AWS call into an AuditforgeError whose one-line message says
 * what was being done and where. AuditforgeErrors pass through unchanged.
 */
export function describeAwsError(error: unknown, context: OperationContext): AuditforgeError {
  if (error instanceof AuditforgeError) return error
  const code = awsErrorCode(error) ?? 'Error'
  const detail = error instanceof Error ? error.message : String(error)
  const target = `${context.action}${where(context)}`
  const options = {cause: error}

  if (isAccessDenied(error)) {
    return new AuditforgeError(`${target}: access denied`, {
      ...options,
      code: 'access_denied',
      exit: ExitCode.failed,
      suggestion: 'Check the credentials in use (`aws sts get-caller-identity`) and their IAM permissions.',
    })
  }
  if (code === 'NoSuchBucket') {
    return new AuditforgeError(`${target}: the bucket does not exist`, {
      ...options,
      code: 'no_such_bucket',
      exit: ExitCode.notFound,
      suggestion: 'Check --shared-bucket / AUDITFORGE_BUCKET and --region.',
    })
  }
  if (code === 'NoSuchKey') {
    return new AuditforgeError(`${target}: no such key`, {...options, code: 'no_such_key', exit: ExitCode.notFound})
  }
  if (isPreconditionFailure(error)) {
    return new AuditforgeError(`${target}: the object changed while it was being written`, {
      ...options,
      code: 'conflict',
      exit: ExitCode.conflict,
      suggestion: 'Another operator is changing the same object; run the command again.',
    })
  }
  if (code === 'SlowDown' || code === 'ThrottlingException' || code === 'Throttling') {
    return new AuditforgeError(`${target}: S3 is throttling requests (${code}) and retries ran out`, {
      ...options,
      code: 'throttled',
      exit: ExitCode.failed,
      suggestion: 'Run the command again in a little while, or lower --concurrency.',
    })
  }
  if (isNetworkError(error)) {
    const systemCode = (error as {code?: unknown} | null)?.code
    return new AuditforgeError(`${target}: could not reach the S3 endpoint (${firstLine(detail) || String(systemCode ?? code)})`, {
      ...options,
      code: 'network',
      exit: ExitCode.failed,
      suggestion: 'Check --endpoint-url / AWS_ENDPOINT_URL, --region and the network.',
    })
  }
  if (/Region is missing/i.test(detail)) {
    return new AuditforgeError('No AWS region is configured', {
      ...options,
      code: 'invalid_input',
      exit: ExitCode.invalidInput,
      suggestion: 'Pass --region or set AWS_REGION.',
    })
  }
  if (/Could not load credentials|CredentialsProviderError/i.test(`${code} ${detail}`)) {
    return new AuditforgeError(`${target}: no AWS credentials were found`, {
      ...options,
      code: 'no_credentials',
      exit: ExitCode.failed,
      suggestion: 'Set AWS_PROFILE, run `aws sso login`, or run where a task or instance role is available.',
    })
  }
  return new AuditforgeError(`${target}: ${code}: ${firstLine(detail)}`, {...options, code: 'aws_error', exit: ExitCode.failed})
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0].trim()
}

/** Runs one AWS call; if it fails, rethrows it described with its context. */
export async function attempt<T>(context: OperationContext, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    throw describeAwsError(error, context)
  }
}
