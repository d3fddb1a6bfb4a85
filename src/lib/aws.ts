/**
 * The S3 and STS clients, made in one place from the resolved settings, and the caller's
 * identity, looked up once per run.
 */
import {S3Client} from '@aws-sdk/client-s3'
import {GetCallerIdentityCommand, STSClient} from '@aws-sdk/client-sts'
import {NodeHttpHandler} from '@smithy/node-http-handler'

import type {Settings} from './config.js'
import {attempt} from './errors.js'
import {validateAccountId} from './layout.js'

export interface CallerIdentity {
  accountId: string
  arn: string
}

/** What every library function gets: clients, settings and the (lazily known) caller. */
export interface AwsContext {
  s3: S3Client
  settings: Settings
  /** The account that owns per-engagement buckets: `--account-id`, else STS. */
  accountId(): Promise<string>
  /** The caller's ARN, recorded as the actor of audit-log events. */
  callerArn(): Promise<string>
}

/** Timeouts that make a dead or black-holed endpoint fail in bounded time. */
const connectionTimeoutMs = 5_000
const requestTimeoutMs = 120_000

export function createClientConfig(settings: Settings) {
  return {
    // With a custom endpoint and no region anywhere, S3-compatible servers accept any region.
    region: settings.region ?? (settings.endpoint ? 'us-east-1' : undefined),
    profile: settings.profile,
    endpoint: settings.endpoint,
    maxAttempts: 5,
    retryMode: 'standard',
    requestHandler: new NodeHttpHandler({
      connectionTimeout: connectionTimeoutMs,
      requestTimeout: requestTimeoutMs,
      httpAgent: {keepAlive: true, maxSockets: 64},
      httpsAgent: {keepAlive: true, maxSockets: 64},
    }),
  } as const
}

export function createAwsContext(settings: Settings): AwsContext {
  // The SDK's notice about future Node versions is addressed to developers, not operators,
  // and would land in the middle of an operator's output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  const config = createClientConfig(settings)
  const s3 = new S3Client({...config, forcePathStyle: settings.endpoint !== undefined})
  let identity: Promise<CallerIdentity> | undefined

  const lookUpCaller = (): Promise<CallerIdentity> => {
    identity ??= attempt({action: 'Looking up the caller identity (sts:GetCallerIdentity)'}, async () => {
      // Its own config, so its own connection pool: destroying it must not cut S3 requests.
      const sts = new STSClient(createClientConfig(settings))
      try {
        const reply = await sts.send(new GetCallerIdentityCommand({}))
        return {accountId: reply.Account ?? '', arn: reply.Arn ?? 'unknown'}
      } finally {
        sts.destroy()
      }
    })
    return identity
  }

  return {
    s3,
    settings,
    async accountId() {
      if (settings.accountId) return settings.accountId
      return validateAccountId((await lookUpCaller()).accountId)
    },
    async callerArn() {
      return (await lookUpCaller()).arn
    },
  }
}
