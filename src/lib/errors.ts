/** The documented exit codes (DESIGN.md, "Exit codes"). */
export const ExitCode = {
  ok: 0,
  failed: 1,
  invalidInput: 2,
  notFound: 3,
  verificationFailed: 4,
  refused: 5,
  conflict: 6,
  /** Stopped by a signal, the shell's code for it: Ctrl-C (SIGINT) 130, SIGTERM 143, SIGHUP 129. */
  interrupted: 130,
  terminated: 143,
  hungUp: 129,
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

/**
 * The codes of failures that a later run gets past with nothing changed in between: a time-out,
 * throttling, an operation still in progress, a lost race. Anything else (access denied, an
 * endpoint that cannot be reached, missing credentials, ...) needs its cause fixed first.
 */
export const passingFailureCodes: ReadonlySet<string> = new Set([
  'timeout',
  'throttled',
  'operation_aborted',
  'conflict',
])

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

/**
 * A conditional write lost the race: 412 PreconditionFailed, or 409 ConditionalRequestConflict
 * (a concurrent conditional write to the same key). Other 409s (OperationAborted,
 * InvalidBucketState, BucketNotEmpty, ...) are failures of their own, not conflicts to retry.
 */
export function isPreconditionFailure(error: unknown): boolean {
  const code = awsErrorCode(error)
  return code === 'PreconditionFailed' || code === 'ConditionalRequestConflict' || httpStatus(error) === 412
}

export function isNotFound(error: unknown): boolean {
  const code = awsErrorCode(error)
  return code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchBucket' || httpStatus(error) === 404
}

/** What the SDK names an error whose answer carried no code of its own (a HEAD's empty 403). */
const codelessNames = new Set(['Unknown', 'UnknownError', 'Error', 'S3ServiceException', 'STSServiceException', '403'])

/**
 * Access denied, and nothing more precise: AccessDenied, AllAccessDisabled, Forbidden, or a 403
 * without a code. A 403 with a code of its own (InvalidObjectState, SignatureDoesNotMatch, ...)
 * says something else and is described as that.
 */
export function isAccessDenied(error: unknown): boolean {
  const code = awsErrorCode(error)
  if (code === 'AccessDenied' || code === 'AllAccessDisabled' || code === 'Forbidden') return true
  return httpStatus(error) === 403 && (code === undefined || codelessNames.has(code))
}

/** Which of the handler's bounds fired: see BoundedHttpHandler in aws.ts. */
export type TimeoutPhase = 'connect' | 'idle' | 'stalled' | 'deadline'

/** Where a request went when it failed below HTTP, and which time bound, if any, ended it. */
export interface TransportFailure {
  /** The origin the request was sent to, e.g. `https://s3.eu-west-1.amazonaws.com`. */
  endpoint: string
  timeout?: {phase: TimeoutPhase; ms: number}
}

const transportKey = Symbol.for('auditforge.transportFailure')

/** Records on an error (the same object, so the SDK's retries keep it) where it happened. */
export function markTransportFailure(error: unknown, endpoint: string, timeout?: TransportFailure['timeout']): unknown {
  if (typeof error === 'object' && error !== null && !(transportKey in error)) {
    Object.defineProperty(error, transportKey, {
      value: {endpoint, timeout} satisfies TransportFailure,
      enumerable: false,
    })
  }
  return error
}

export function transportFailure(error: unknown): TransportFailure | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  return (error as {[transportKey]?: TransportFailure})[transportKey]
}

/** What the credential lookup knew when it failed (`CredentialTrail` in credentials.ts). */
export interface CredentialLookup {
  /** The profile named for this run, and where: the chain uses it instead of environment keys. */
  profile?: {name: string; from: '--profile' | 'AWS_PROFILE'}
  /** The shared config and credentials files the SDK reads profiles from. */
  files: {config: string; credentials: string}
  /** The container credential endpoint (its origin) and the variable that names it. */
  container?: {variable: string; origin: string}
  /** Each source's last reason for giving nothing, as the SDK said it, by the chain's name for it. */
  reasons: Partial<Record<string, string>>
}

const credentialKey = Symbol.for('auditforge.credentialLookup')

/** Records on an error thrown by the credential lookup what the lookup knew. */
export function markCredentialFailure(error: unknown, lookup: CredentialLookup): unknown {
  if (typeof error === 'object' && error !== null && !(credentialKey in error)) {
    Object.defineProperty(error, credentialKey, {value: lookup, enumerable: false})
  }
  return error
}

export function credentialFailure(error: unknown): CredentialLookup | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  return (error as {[credentialKey]?: CredentialLookup})[credentialKey]
}

/** What the SDK names its credential providers' own errors: their message is the whole story. */
const providerNames = new Set(['CredentialsProviderError', 'ProviderError', 'TokenProviderError', 'Error'])

/** The SDK chain's own message when no source gave credentials. */
const noSourceLeft = /Could not load credentials from any providers/

/**
 * A failed credential lookup, with the SDK's reason kept and a suggestion that fits: the profile
 * that was named, the container endpoint that was asked, or, with neither, where credentials come
 * from.
 */
function credentialsError(target: string, detail: string, lookup: CredentialLookup | undefined, cause: unknown) {
  const options = {cause, code: 'no_credentials', exit: ExitCode.failed} as const
  const profile = lookup?.profile
  const files = [
    ...new Set([lookup?.files.config ?? '~/.aws/config', lookup?.files.credentials ?? '~/.aws/credentials']),
  ].join(' or ')
  const login = `aws sso login${profile ? ` --profile ${profile.name}` : ''}`
  if (!noSourceLeft.test(detail)) {
    // One source failed outright (an expired SSO session, a role that cannot be assumed, a
    // credential_process that failed): its own message says what.
    return new AuditforgeError(
      `${target}: could not get AWS credentials${profile ? ` from the profile "${profile.name}"` : ''}: ${firstLine(detail)}`,
      {
        ...options,
        suggestion: /\bSSO\b/i.test(detail)
          ? `Run \`${login}\`, then run the command again.`
          : profile
            ? `Check the profile "${profile.name}" (${profile.from}) in ${files}: \`aws configure list --profile ${profile.name}\` shows what it resolves to.`
            : 'Check the credentials this machine provides: `aws configure list` shows where they come from.',
      },
    )
  }
  if (profile) {
    const reason = lookup.reasons.fromIni
    return new AuditforgeError(
      `${target}: no AWS credentials from the profile "${profile.name}"${reason ? ` (${firstLine(reason)})` : ''}`,
      {
        ...options,
        suggestion: `The profile is named by ${profile.from}: check that "${profile.name}" is in ${files} and has credentials (\`aws configure list-profiles\` lists the profiles), or name another one.`,
      },
    )
  }
  if (lookup?.container) {
    const reason = lookup.reasons.remoteProvider
    return new AuditforgeError(
      `${target}: no AWS credentials from the container credential endpoint ${lookup.container.origin}${reason ? ` (${firstLine(reason)})` : ''}`,
      {
        ...options,
        suggestion: `${lookup.container.variable} names the ECS or EKS credential endpoint: check that the task or pod has a role and that the endpoint answers from here; outside a container, unset it and use a profile or environment credentials.`,
      },
    )
  }
  return new AuditforgeError(`${target}: no AWS credentials were found`, {
    ...options,
    suggestion: `Set AWS_PROFILE (a profile in ${files}), run \`${login}\`, or run where a task or instance role is available.`,
  })
}

/**
 * The endpoint answered, but not as S3 would: an HTML or JSON page from a proxy, a captive
 * portal or the wrong service, which the SDK could not parse.
 */
export function isNonS3Answer(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('$response' in error)) return false
  const detail = error instanceof Error ? `${error.name} ${error.message}` : ''
  if (
    /Deserialization error|SyntaxError|Unexpected token|not valid JSON|Unexpected end|Invalid XML|char '<'|non-whitespace before first tag/i.test(
      detail,
    )
  ) {
    return true
  }
  const headers = (error as {$response?: {headers?: Record<string, string>}}).$response?.headers ?? {}
  const contentType = Object.entries(headers).find(([name]) => name.toLowerCase() === 'content-type')?.[1] ?? ''
  const code = awsErrorCode(error)
  // An error page: HTML, or an answer with no error code that is not XML either.
  return (
    /html/i.test(contentType) ||
    ((code === undefined || codelessNames.has(code)) && contentType !== '' && !/xml/i.test(contentType))
  )
}

/**
 * The error for an answer that is not S3's: it says so, and points at the endpoint. It never
 * suggests repairing the data: what was read is not the data at all, and "restoring" a file
 * because a proxy or another service answered would be acting on a wrong endpoint.
 */
export function nonS3Answer(target: string, detail?: string, cause?: unknown): AuditforgeError {
  return new AuditforgeError(`${target}: the endpoint's answer is not an S3 response${detail ? ` (${detail})` : ''}`, {
    code: 'not_s3',
    exit: ExitCode.failed,
    suggestion:
      'Check --endpoint-url / AWS_ENDPOINT_URL: it may point at a proxy, a web page or another service. Nothing was changed.',
    cause,
  })
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
    /ECONNREFUSED|ECONNRESET|ENOTFOUND|ETIMEDOUT|EAI_AGAIN|EPIPE|socket hang up|^aborted$/.test(detail)
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
  const transport = transportFailure(error)

  const lookup = credentialFailure(error)
  if (transport?.timeout) {
    return new AuditforgeError(`${target}: ${timedOut(transport.endpoint, transport.timeout)} (timed out)`, {
      ...options,
      code: 'timeout',
      exit: ExitCode.failed,
      suggestion:
        'Check the endpoint and the network. AUDITFORGE_CONNECT_TIMEOUT and AUDITFORGE_READ_TIMEOUT (seconds) set the limits.',
    })
  }
  // Thrown by the credential lookup, except a call it made that never got an answer (an SSO portal
  // or STS that cannot be reached), which is described below with its endpoint like any other.
  if ((lookup && !transport) || /Could not load credentials|CredentialsProviderError/i.test(`${code} ${detail}`)) {
    return credentialsError(target, providerNames.has(code) ? detail : `${code}: ${detail}`, lookup, error)
  }
  if (code === 'InvalidObjectState') {
    const storageClass = (error as {StorageClass?: string}).StorageClass
    return new AuditforgeError(
      `${target}: the object is archived (${storageClass ?? 'GLACIER or DEEP_ARCHIVE'}); restore it first`,
      {
        ...options,
        code: 'archived',
        exit: ExitCode.failed,
        suggestion:
          'Restore the object (aws s3api restore-object) and run the command again once the restore has finished.',
      },
    )
  }
  if (isAccessDenied(error)) {
    return new AuditforgeError(`${target}: access denied`, {
      ...options,
      code: 'access_denied',
      exit: ExitCode.failed,
      suggestion: 'Check the credentials in use (`aws sts get-caller-identity`) and their IAM permissions.',
    })
  }
  if (code === 'NoSuchBucket') return noSuchBucket(target, options)
  if (code === 'NoSuchKey') {
    return new AuditforgeError(`${target}: no such key`, {...options, code: 'no_such_key', exit: ExitCode.notFound})
  }
  // A HEAD's 404 has no body to name the error, so the SDK calls it NotFound: on HeadBucket it is
  // the bucket that is missing; on HeadObject the key (or its bucket).
  if (code === 'NotFound' && httpStatus(error) === 404) {
    if (context.key)
      return new AuditforgeError(`${target}: not found`, {...options, code: 'not_found', exit: ExitCode.notFound})
    return noSuchBucket(target, options)
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
  if (code === 'OperationAborted') {
    return new AuditforgeError(`${target}: another operation on this bucket is still in progress (OperationAborted)`, {
      ...options,
      code: 'operation_aborted',
      exit: ExitCode.failed,
      suggestion: 'Run the command again in a little while.',
    })
  }
  if (code === 'InvalidBucketState') {
    return new AuditforgeError(
      `${target}: the bucket's state does not allow this (InvalidBucketState: ${firstLine(detail)})`,
      {
        ...options,
        code: 'invalid_bucket_state',
        exit: ExitCode.failed,
      },
    )
  }
  if (code === 'BucketNotEmpty') {
    return new AuditforgeError(`${target}: the bucket is not empty`, {
      ...options,
      code: 'bucket_not_empty',
      exit: ExitCode.failed,
    })
  }
  if (isNetworkError(error)) {
    const systemCode = (error as {code?: unknown} | null)?.code
    const endpoint = transport?.endpoint ?? 'the endpoint'
    const reason = firstLine(detail) || String(systemCode ?? code)
    const cut = systemCode === 'ECONNRESET' || systemCode === 'EPIPE' || /^aborted$|socket hang up/.test(reason)
    return new AuditforgeError(
      `${target}: ${cut ? `the connection to ${endpoint} was cut` : `could not reach ${endpoint}`} (${reason})`,
      {
        ...options,
        code: 'network',
        exit: ExitCode.failed,
        suggestion:
          'Check --endpoint-url / AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL, --region and the network.',
      },
    )
  }
  if (isNonS3Answer(error)) {
    const status = httpStatus(error)
    return nonS3Answer(target, status ? `HTTP ${status}` : undefined, error)
  }
  if (/Region is missing/i.test(detail)) {
    return new AuditforgeError('No AWS region is configured', {
      ...options,
      code: 'invalid_input',
      exit: ExitCode.invalidInput,
      suggestion: 'Pass --region or set AWS_REGION.',
    })
  }
  return new AuditforgeError(`${target}: ${code}: ${firstLine(detail)}`, {
    ...options,
    code: 'aws_error',
    exit: ExitCode.failed,
  })
}

function noSuchBucket(target: string, options: {cause: unknown}): AuditforgeError {
  return new AuditforgeError(`${target}: the bucket does not exist`, {
    ...options,
    code: 'no_such_bucket',
    exit: ExitCode.notFound,
    suggestion: 'Check --shared-bucket / AUDITFORGE_BUCKET and --region.',
  })
}

function timedOut(endpoint: string, timeout: NonNullable<TransportFailure['timeout']>): string {
  const seconds = `${Number((timeout.ms / 1000).toFixed(3))} s`
  switch (timeout.phase) {
    case 'connect':
      return `could not connect to ${endpoint} within ${seconds}`
    case 'idle':
      return `no answer from ${endpoint} within ${seconds}`
    case 'stalled':
      return `the answer from ${endpoint} stalled for ${seconds}`
    case 'deadline':
      return `the answer from ${endpoint} did not complete within ${seconds}`
  }
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
