/**
 * What the SDK's credential chain said while it looked. The chain tries each source in turn
 * (environment, SSO, profile, process, web identity, container or instance role) and, when none
 * gives credentials, throws one catch-all error ("Could not load credentials from any
 * providers"): why the named profile or the container endpoint gave nothing is only said to the
 * chain's logger. This logger keeps those reasons, per source, so a failure can say them
 * (`describeAwsError`), along with which profile and endpoint were in play.
 */
import type {CredentialLookup} from './errors.js'

type Environment = Record<string, string | undefined>

/** The logger the SDK's credential providers take (`@smithy/types` Logger). */
export interface CredentialLogger {
  trace(...content: unknown[]): void
  debug(...content: unknown[]): void
  info(...content: unknown[]): void
  warn(...content: unknown[]): void
  error(...content: unknown[]): void
}

/** The ECS agent's address, which AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is a path on. */
const containerHost = 'http://169.254.170.2'

/**
 * Records what the credential chain says. Only the providers' reasons are kept (never request
 * or response contents); warnings still reach stderr as the SDK prints them without a logger.
 */
export class CredentialTrail {
  readonly logger: CredentialLogger
  private readonly facts: Omit<CredentialLookup, 'reasons'>
  private readonly reasons: Partial<Record<string, string>> = {}
  private source = 'fromEnv'

  constructor(profileFlag: string | undefined, env: Environment = process.env) {
    this.facts = lookupFacts(profileFlag, env)
    this.logger = {
      trace() {},
      debug: (...content) => this.record(content[0]),
      info() {},
      warn: (...content) => console.warn(...content),
      error: (...content) => console.error(...content),
    }
  }

  /** The lookup as it stands: the profile and endpoint in play, and each source's last reason. */
  snapshot(): CredentialLookup {
    return {...this.facts, reasons: {...this.reasons}}
  }

  private record(line: unknown): void {
    if (typeof line !== 'string') return
    // "@aws-sdk/credential-provider-node - defaultProvider::fromIni": the chain moves on.
    const stage = /defaultProvider::(\w+)/.exec(line)
    if (stage) {
      this.source = stage[1]
      return
    }
    // "@smithy/property-provider -> <why this source gave nothing>" ("(!)" when it stops the chain).
    const reason = /^@smithy\/property-provider (?:->|\(!\)) ([\s\S]+)$/.exec(line)
    // The chain's own last word (no source left) is no source's reason.
    if (reason && !/Could not load credentials from any providers/.test(reason[1])) {
      this.reasons[this.source] = reason[1].trim()
    }
  }
}

function lookupFacts(profileFlag: string | undefined, env: Environment): Omit<CredentialLookup, 'reasons'> {
  const named = profileFlag?.trim()
    ? {name: profileFlag.trim(), from: '--profile' as const}
    : env.AWS_PROFILE?.trim()
      ? {name: env.AWS_PROFILE.trim(), from: 'AWS_PROFILE' as const}
      : undefined
  return {
    profile: named,
    files: {
      config: env.AWS_CONFIG_FILE?.trim() || '~/.aws/config',
      credentials: env.AWS_SHARED_CREDENTIALS_FILE?.trim() || '~/.aws/credentials',
    },
    container: containerEndpoint(env),
  }
}

/**
 * The container credential endpoint the chain asks, as the SDK picks it (the relative URI wins),
 * by its origin only: the path is the task's own credential lookup key.
 */
function containerEndpoint(env: Environment): CredentialLookup['container'] {
  const relative = env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI?.trim()
  if (relative) return {variable: 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', origin: containerHost}
  const full = env.AWS_CONTAINER_CREDENTIALS_FULL_URI?.trim()
  if (!full) return undefined
  let origin: string
  try {
    origin = new URL(full).origin
  } catch {
    origin = 'an invalid URL'
  }
  return {variable: 'AWS_CONTAINER_CREDENTIALS_FULL_URI', origin}
}
