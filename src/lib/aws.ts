/**
 * The AWS clients, made in one place from the resolved settings, and the caller's identity,
 * looked up once per run. Every client gets its own service's endpoint and the same time
 * bounds (see `BoundedHttpHandler`).
 */
import type {Readable} from 'node:stream'

import type {CloudTrailClient} from '@aws-sdk/client-cloudtrail'
import type {IAMClient} from '@aws-sdk/client-iam'
import {S3Client} from '@aws-sdk/client-s3'
import {S3ControlClient} from '@aws-sdk/client-s3-control'
import {GetCallerIdentityCommand, STSClient} from '@aws-sdk/client-sts'
import {defaultProvider} from '@aws-sdk/credential-provider-node'
import {NodeHttpHandler} from '@smithy/node-http-handler'

import type {Service, Settings, TimeBounds} from './config.js'
import {CredentialTrail} from './credentials.js'
import {
  AuditforgeError,
  ExitCode,
  type TimeoutPhase,
  attempt,
  markCredentialFailure,
  markTransportFailure,
} from './errors.js'
import {validateAccountId} from './layout.js'
import {isStreamedRead} from './s3/streaming.js'

/** What a client's `credentials` takes: the default chain, bounded (`createCredentials`). */
export type AwsCredentialIdentityProvider = ReturnType<typeof defaultProvider>

export interface CallerIdentity {
  accountId: string
  arn: string
}

/** What every library function gets: clients, settings and the (lazily known) caller. */
export interface AwsContext {
  s3: S3Client
  settings: Settings
  /** The one credential provider every client of this run shares (its own calls bounded too). */
  credentials?: AwsCredentialIdentityProvider
  /** The account that owns per-engagement buckets: `--account-id`, else STS. */
  accountId(): Promise<string>
  /** The caller's ARN, recorded as the actor of audit-log events. */
  callerArn(): Promise<string>
}

type Handle = NodeHttpHandler['handle']
type HandledRequest = Parameters<Handle>[0]
type HandlerOptions = Parameters<Handle>[1]

/** How long an attempt may last depends on what the operation is (`TimeBounds`). */
type RequestKind = 'ordinary' | 'long' | 'streaming'

/** S3 answers these at once and keeps the connection alive with whitespace until it is done. */
const longOperations = new Set(['CopyObjectCommand', 'UploadPartCopyCommand', 'CompleteMultipartUploadCommand'])

/** Set by the S3 client's middleware, which knows the operation; read by the handler, which does not. */
const requestKinds = new WeakMap<object, RequestKind>()

/**
 * NodeHttpHandler with every bound made to throw, and with a deadline on the whole answer of
 * non-streaming operations:
 * - connect: the TCP/TLS connection must be up within `connect`;
 * - idle: no byte in either direction for `idle` fails the attempt (a half-open connection);
 * - deadline: the response headers, and the body of anything but a streamed GetObject, must be
 *   complete within `attempt` (`longAttempt` for copies) of the attempt's start, so a server
 *   that drips bytes forever is cut too.
 * Failures carry the endpoint and, for timeouts, which bound fired (see `describeAwsError`).
 */
export class BoundedHttpHandler {
  readonly metadata = {handlerProtocol: 'http/1.1'}
  private readonly inner: NodeHttpHandler

  constructor(private readonly bounds: TimeBounds) {
    this.inner = new NodeHttpHandler({
      connectionTimeout: bounds.connect,
      socketTimeout: bounds.idle,
      requestTimeout: bounds.attempt,
      // Without it a passed requestTimeout is only logged as a warning.
      throwOnRequestTimeout: true,
      httpAgent: {keepAlive: true, maxSockets: 64},
      httpsAgent: {keepAlive: true, maxSockets: 64},
    })
  }

  async handle(request: HandledRequest, options: HandlerOptions = {}): ReturnType<Handle> {
    const kind = requestKinds.get(request) ?? 'ordinary'
    const deadline = kind === 'long' ? this.bounds.longAttempt : this.bounds.attempt
    const endpoint = originOf(request)
    const started = Date.now()
    let reply: Awaited<ReturnType<Handle>>
    try {
      reply = await this.inner.handle(request, {...options, requestTimeout: deadline})
    } catch (error) {
      throw markTransportFailure(error, endpoint, this.timeoutOf(error, deadline, 'before'))
    }
    const body = reply.response.body as Readable | undefined
    if (body && typeof body.once === 'function' && typeof body.destroy === 'function') {
      body.once('error', (error) => markTransportFailure(error, endpoint, this.timeoutOf(error, deadline, 'during')))
      if (kind !== 'streaming') boundBody(body, deadline - (Date.now() - started), deadline)
    }
    return reply
  }

  /** Which bound an error from the inner handler is, from smithy's own messages; undefined = not a timeout. */
  private timeoutOf(
    error: unknown,
    deadline: number,
    stage: 'before' | 'during',
  ): {phase: TimeoutPhase; ms: number} | undefined {
    const {name, message = '', code} = (error ?? {}) as {name?: string; message?: string; code?: string}
    if (name !== 'TimeoutError' || (code !== undefined && code !== 'ETIMEDOUT')) return undefined
    if (/did not establish a connection/.test(message)) return {phase: 'connect', ms: this.bounds.connect}
    if (/of inactivity/.test(message)) return {phase: stage === 'before' ? 'idle' : 'stalled', ms: this.bounds.idle}
    return {phase: 'deadline', ms: deadline}
  }

  updateHttpClientConfig(key: never, value: never): void {
    this.inner.updateHttpClientConfig(key, value)
  }

  httpHandlerConfigs() {
    return this.inner.httpHandlerConfigs()
  }

  destroy(): void {
    this.inner.destroy()
  }
}

/** Fails a response body that is still incomplete when the attempt's deadline passes. */
function boundBody(body: Readable, remainingMs: number, deadline: number): void {
  if (body.readableEnded || body.destroyed) return
  const timer = setTimeout(
    () => {
      body.destroy(
        Object.assign(new Error(`the answer did not complete within the ${deadline} ms deadline`), {
          name: 'TimeoutError',
          code: 'ETIMEDOUT',
        }),
      )
    },
    Math.max(0, remainingMs),
  )
  // An answer nobody reads must not keep the process alive.
  timer.unref()
  body.once('end', () => clearTimeout(timer))
  body.once('close', () => clearTimeout(timer))
}

function originOf(request: HandledRequest): string {
  return `${request.protocol}//${request.hostname}${request.port ? `:${request.port}` : ''}`
}

/**
 * The SDK's default credential chain (environment, SSO, web identity, profiles, process,
 * container and instance roles), with the calls it makes itself (SSO, SSO-OIDC, STS for assumed
 * roles) under the same time bounds as every other call: left to itself it would build clients
 * with no bounds.
 *
 * The container and instance metadata endpoints are local to the machine: they answer at once or
 * not at all, so they get the connect bound per attempt and at most one retry (the SDK's
 * container provider also waits `timeout` between its tries). The whole lookup then ends within
 * 5 × the connect timeout (25 s) where the endpoint cannot be reached, instead of minutes.
 */
export function createCredentials(settings: Settings): AwsCredentialIdentityProvider {
  const trail = new CredentialTrail(settings.profile)
  const chain = defaultProvider({
    profile: settings.profile,
    clientConfig: {requestHandler: new BoundedHttpHandler(settings.timeBounds), maxAttempts: settings.maxAttempts},
    // The metadata providers' own options: milliseconds to connect (and to wait between tries), and retries.
    timeout: settings.timeBounds.connect,
    maxRetries: metadataRetries(settings),
    // Why each source gave nothing is said only to the logger: a failure keeps it (describeAwsError).
    logger: trail.logger,
  })
  // The one bound the SDK has no option for: an endpoint that accepts and never answers (its
  // HTTP provider sets a connect timeout, no read timeout). The whole lookup gets one attempt's bound.
  const deadline = settings.timeBounds.attempt
  return async (options) => {
    let timer: NodeJS.Timeout | undefined
    const silent = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new AuditforgeError(
              `Looking up AWS credentials: no answer within ${deadline / 1000} s (4 × AUDITFORGE_READ_TIMEOUT)`,
              {
                code: 'timeout',
                exit: ExitCode.failed,
                suggestion:
                  'A credential source accepted the connection and never answered: check the container credential endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI), or the credential_process or SSO settings of the profile.',
              },
            ),
          ),
        deadline,
      )
    })
    try {
      return await Promise.race([chain(options), silent])
    } catch (error) {
      throw markCredentialFailure(error, trail.snapshot())
    } finally {
      clearTimeout(timer)
    }
  }
}

/** Retries of the metadata endpoints: one, or none when AWS_MAX_ATTEMPTS is 1. */
export function metadataRetries(settings: Settings): number {
  return Math.min(1, settings.maxAttempts - 1)
}

/** The configuration every client shares, with `service`'s own endpoint. */
export function createClientConfig(
  settings: Settings,
  service: Service = 's3',
  credentials?: AwsCredentialIdentityProvider,
) {
  const endpoint = settings.endpoints[service]
  return {
    credentials,
    // With a custom endpoint and no region anywhere, S3-compatible servers accept any region.
    region: settings.region ?? (endpoint ? 'us-east-1' : undefined),
    profile: settings.profile,
    endpoint,
    maxAttempts: settings.maxAttempts,
    retryMode: 'standard',
    requestHandler: new BoundedHttpHandler(settings.timeBounds),
  } as const
}

/**
 * A CloudTrail client (for the data-events control), loaded only when a trail is configured;
 * the caller destroys it when done.
 */
export async function createCloudTrailClient(
  settings: Settings,
  credentials?: AwsCredentialIdentityProvider,
): Promise<CloudTrailClient> {
  const {CloudTrailClient} = await import('@aws-sdk/client-cloudtrail')
  return new CloudTrailClient(createClientConfig(settings, 'cloudtrail', credentials))
}

/**
 * An IAM client (for the path of the caller's role), loaded only when a least-privilege list is
 * checked; the caller destroys it when done (IAM is global: the SDK's endpoint rules pick the
 * partition's host from the region).
 */
export async function createIamClient(
  settings: Settings,
  credentials?: AwsCredentialIdentityProvider,
): Promise<IAMClient> {
  const {IAMClient} = await import('@aws-sdk/client-iam')
  return new IAMClient(createClientConfig(settings, 'iam', credentials))
}

/** The S3 client: path-style and checksums as the settings say, copies and streams timed as such. */
export function createS3Client(settings: Settings, credentials?: AwsCredentialIdentityProvider): S3Client {
  const s3 = new S3Client({
    ...createClientConfig(settings, 's3', credentials),
    forcePathStyle: settings.endpoints.s3 !== undefined,
    ...settings.checksums,
  })
  // The input is only the caller's object at the first step; later steps see a copy.
  const streamedCalls = new WeakSet<object>()
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (isStreamedRead(args.input)) streamedCalls.add(context)
      return next(args)
    },
    {step: 'initialize', priority: 'high', name: 'auditforgeStreamedRead'},
  )
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = context.commandName ?? ''
      // Streamed reads are opened as such by the storage layer (openObjectStream); any other
      // GetObject body, the index's for one, must arrive within the deadline.
      const kind = longOperations.has(operation) ? 'long' : streamedCalls.has(context) ? 'streaming' : undefined
      if (kind && typeof args.request === 'object' && args.request !== null) requestKinds.set(args.request, kind)
      return next(args)
    },
    // Last before the handler: this is the very request object the handler receives.
    {step: 'deserialize', priority: 'low', name: 'auditforgeRequestKind'},
  )
  return s3
}

/**
 * The S3 Control client (S3 Batch Operations jobs). On AWS its endpoint rules put the account id
 * in front of the host (`<account>.s3-control.<region>.amazonaws.com`); a custom endpoint
 * (AWS_ENDPOINT_URL_S3_CONTROL) is used exactly as given instead, signed as S3 Control is.
 */
export function createS3ControlClient(
  settings: Settings,
  credentials?: AwsCredentialIdentityProvider,
): S3ControlClient {
  const config = createClientConfig(settings, 's3Control', credentials)
  const endpoint = settings.endpoints.s3Control
  if (endpoint === undefined) return new S3ControlClient(config)
  const url = new URL(endpoint)
  const region = config.region ?? 'us-east-1'
  return new S3ControlClient({
    ...config,
    disableHostPrefix: true,
    endpointProvider: () => ({
      url,
      properties: {
        authSchemes: [
          {name: 'sigv4', signingName: 's3', signingRegion: region, disableDoubleEncoding: true, properties: {}},
        ],
      },
    }),
  })
}

export function createAwsContext(settings: Settings): AwsContext {
  // The SDK's notice about future Node versions is addressed to developers, not operators,
  // and would land in the middle of an operator's output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  const credentials = createCredentials(settings)
  const s3 = createS3Client(settings, credentials)
  let identity: Promise<CallerIdentity> | undefined

  const lookUpCaller = (purpose: 'account' | 'actor'): Promise<CallerIdentity> => {
    identity ??= attempt({action: 'Looking up the caller identity (sts:GetCallerIdentity)'}, async () => {
      // Its own client, so its own connection pool: destroying it must not cut S3 requests.
      const sts = new STSClient(createClientConfig(settings, 'sts', credentials))
      try {
        const reply = await sts.send(new GetCallerIdentityCommand({}))
        return {accountId: reply.Account ?? '', arn: reply.Arn ?? 'unknown'}
      } finally {
        sts.destroy()
      }
    }).catch((error: unknown) => {
      throw unreachableSts(error, purpose)
    })
    return identity
  }

  return {
    s3,
    settings,
    credentials,
    async accountId() {
      if (settings.accountId) return settings.accountId
      return validateAccountId((await lookUpCaller('account')).accountId)
    },
    async callerArn() {
      return (await lookUpCaller('actor')).arn
    },
  }
}

/**
 * A caller lookup that never reached STS says why STS is asked at all: an S3-only endpoint
 * (--endpoint-url, AWS_ENDPOINT_URL_S3) never sends STS there, and --account-id replaces the
 * lookup only for the account, never for the actor recorded in what a command writes.
 */
function unreachableSts(error: unknown, purpose: 'account' | 'actor'): unknown {
  if (!(error instanceof AuditforgeError) || !['network', 'timeout', 'not_s3'].includes(error.code)) return error
  const why =
    purpose === 'actor'
      ? "This command records the caller's ARN as the actor of what it writes, so it needs STS even with --account-id."
      : 'The account id comes from STS unless --account-id or AUDITFORGE_ACCOUNT_ID gives it.'
  return new AuditforgeError(error.message, {
    code: error.code,
    exit: error.exit,
    cause: error.cause,
    suggestion: `${why} Point AWS_ENDPOINT_URL_STS at an STS endpoint that answers here (an STS VPC endpoint, for one), or run where STS is reachable.`,
  })
}
