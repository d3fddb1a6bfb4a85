/**
 * Configuration, resolved flag > environment > default exactly as DESIGN.md's table says.
 * Everything here is validated before any AWS call, so bad input is exit 2 with nothing sent.
 */
import {invalidInput} from './errors.js'
import {defaultBucketPrefix, validateAccountId, validateBucketName, validateBucketPrefix} from './layout.js'

export interface Settings {
  /** The shared platform bucket; undefined when neither flag nor environment names one. */
  sharedBucket?: string
  /** Whether `engagement create` provisions a per-engagement bucket. */
  isolated: boolean
  bucketPrefix: string
  region?: string
  profile?: string
  /** An S3-compatible endpoint; path-style addressing is used when set. */
  endpoint?: string
  /** Known up front (flag or environment); otherwise looked up with STS once per run. */
  accountId?: string
}

/** The flags every command shares; all optional, all strings, as oclif parses them. */
export interface SettingFlags {
  'shared-bucket'?: string
  isolated?: boolean
  region?: string
  profile?: string
  'endpoint-url'?: string
  'account-id'?: string
}

type Environment = Record<string, string | undefined>

/** `1`, `true`, `yes` in any case enable; anything else, or unset, is off (seed 000). */
export function isEnabled(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes)$/i.test(value.trim())
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim()
  return trimmed ? trimmed : undefined
}

export function resolveSettings(flags: SettingFlags, env: Environment = process.env): Settings {
  const sharedBucket = nonEmpty(flags['shared-bucket']) ?? nonEmpty(env.AUDITFORGE_BUCKET)
  const endpoint = nonEmpty(flags['endpoint-url']) ?? nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL)
  const accountId = nonEmpty(flags['account-id']) ?? nonEmpty(env.AUDITFORGE_ACCOUNT_ID)
  const region = nonEmpty(flags.region) ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION)

  if (sharedBucket !== undefined) validateBucketName(sharedBucket, 'shared bucket name')
  if (endpoint !== undefined) validateEndpoint(endpoint)
  if (accountId !== undefined) validateAccountId(accountId)
  if (region !== undefined && !/^[a-z]{2}(-[a-z0-9]+)+-\d{1,2}$/.test(region)) {
    throw invalidInput(`Invalid AWS region ${JSON.stringify(region)}`, 'Regions look like us-east-1 or eu-west-2.')
  }

  return {
    sharedBucket,
    isolated: flags.isolated ?? isEnabled(env.AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET),
    bucketPrefix: validateBucketPrefix(env.AUDITFORGE_BUCKET_PREFIX ?? defaultBucketPrefix),
    region,
    profile: nonEmpty(flags.profile),
    endpoint,
    accountId,
  }
}

function validateEndpoint(endpoint: string): void {
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    throw invalidInput(`Invalid endpoint URL ${JSON.stringify(endpoint)}`, 'Endpoints look like http://127.0.0.1:5000.')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidInput(`Invalid endpoint URL ${JSON.stringify(endpoint)}: use http:// or https://`)
  }
}

/** The shared bucket, or the usage error DESIGN.md asks for when none is configured. */
export function requireSharedBucket(settings: Settings): string {
  if (!settings.sharedBucket) {
    throw invalidInput(
      'No shared platform bucket is configured',
      'Pass --shared-bucket or set AUDITFORGE_BUCKET to the platform bucket that holds auditforge/engagements.json.',
    )
  }
  return settings.sharedBucket
}
