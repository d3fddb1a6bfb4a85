/**
 * Configuration, resolved flag > environment > default exactly as DESIGN.md's table says.
 * Everything here is validated before any AWS call, so bad input is exit 2 with nothing sent.
 */
import {validatePrincipal} from './buckets/principals.js'
import {invalidInput} from './errors.js'
import {
  type BucketNamespace,
  bucketNamespaces,
  defaultBucketPrefix,
  validateAccountId,
  validateBucketName,
  validateBucketPrefix,
} from './layout.js'

export interface Settings {
  /** The shared platform bucket; undefined when neither flag nor environment names one. */
  sharedBucket?: string
  /** Whether `engagement create` provisions a per-engagement bucket. */
  isolated: boolean
  bucketPrefix: string
  /** Where new per-engagement bucket names live (`--namespace`, AUDITFORGE_BUCKET_NAMESPACE); both forms are recognised always. */
  namespace: BucketNamespace
  region?: string
  profile?: string
  /** Each service's own endpoint, resolved as the AWS CLI does; undefined = AWS itself. */
  endpoints: Endpoints
  /** Known up front (flag or environment); otherwise looked up with STS once per run. */
  accountId?: string
  /** How long any one AWS call may take; see `TimeBounds`. */
  timeBounds: TimeBounds
  /** SDK attempts per call (first try included): AWS_MAX_ATTEMPTS, default 5. */
  maxAttempts: number
  /**
   * The SDK's checksum behaviour for S3, when auditforge chooses it: `WHEN_REQUIRED` on a custom
   * S3 endpoint unless the operator set the SDK's own variable; undefined = the SDK decides.
   */
  checksums: {requestChecksumCalculation?: 'WHEN_REQUIRED'; responseChecksumValidation?: 'WHEN_REQUIRED'}
  /** What the bucket controls should be on a per-engagement bucket (provision, verify, migrate). */
  controls: ControlSettings
}

/** The operator's choices for the bucket controls, flag > environment > default. */
export interface ControlSettings {
  /** `--kms-key-id` / AUDITFORGE_KMS_KEY_ID: SSE-KMS with this key and a bucket key; otherwise AES256 at least. */
  kmsKeyId?: string
  /**
   * `--archive-findings-after-days` / AUDITFORGE_ARCHIVE_FINDINGS_AFTER_DAYS: findings.json moves
   * to DEEP_ARCHIVE this many days after it was written; 0 = never.
   */
  archiveFindingsAfterDays: number
  /** `--noncurrent-days` / AUDITFORGE_NONCURRENT_DAYS: old versions expire after this many days; off by default (versions are evidence). */
  noncurrentDays?: number
  /**
   * `--allow-principal` / AUDITFORGE_ALLOWED_PRINCIPALS: when any, the bucket policy denies every
   * principal not matching one of these ARNs (least privilege); none = no such statement.
   */
  allowedPrincipals: string[]
  /**
   * `--access-log-bucket` / AUDITFORGE_ACCESS_LOG_BUCKET: server access logs go there, under a
   * prefix of the engagement's own; none = no logging control.
   */
  accessLogBucket?: string
  /**
   * `--cloudtrail-trail` / AUDITFORGE_CLOUDTRAIL_TRAIL: an existing trail (name or ARN) that gets
   * an advanced event selector for the bucket's object-level events; none = no such control.
   */
  cloudtrailTrail?: string
}

export const defaultArchiveFindingsAfterDays = 90

/**
 * Endpoints per service. `--endpoint-url` is S3's alone (as with the AWS CLI), so an S3-only
 * endpoint (a VPC endpoint, a gateway) never receives STS or Service Quotas calls.
 */
export interface Endpoints {
  /** `--endpoint-url` > AWS_ENDPOINT_URL_S3 > AWS_ENDPOINT_URL; path-style addressing when set. */
  s3?: string
  /** AWS_ENDPOINT_URL_STS > AWS_ENDPOINT_URL. */
  sts?: string
  /** AWS_ENDPOINT_URL_S3_CONTROL > AWS_ENDPOINT_URL, for an S3 Control client. */
  s3Control?: string
  /** AWS_ENDPOINT_URL_SERVICE_QUOTAS > AWS_ENDPOINT_URL. */
  serviceQuotas?: string
  /** AWS_ENDPOINT_URL_CLOUDTRAIL > AWS_ENDPOINT_URL, for the CloudTrail data-events control. */
  cloudtrail?: string
  /** AWS_ENDPOINT_URL_IAM > AWS_ENDPOINT_URL, for the path of the caller's role (least-privilege lock-out check). */
  iam?: string
}

export type Service = keyof Endpoints

/**
 * The time bounds of every AWS call, in milliseconds. `connect` and `idle` are the operator's
 * (AUDITFORGE_CONNECT_TIMEOUT, AUDITFORGE_READ_TIMEOUT); the deadlines follow from `idle` so
 * one knob scales them all.
 */
export interface TimeBounds {
  /** TCP (and TLS) connect. */
  connect: number
  /** No byte in either direction for this long fails the attempt: a half-open connection. */
  idle: number
  /**
   * One attempt, from sending to the complete answer: 4 × idle. A streamed GetObject body is
   * outside it (idle alone bounds that), so an export is never cut while bytes flow.
   */
  attempt: number
  /**
   * One attempt of a server-side copy or of completing a multipart upload: 30 × idle. S3
   * answers these at once and then keeps the connection alive with whitespace until done.
   */
  longAttempt: number
}

export const defaultConnectTimeoutSeconds = 5
export const defaultReadTimeoutSeconds = 30
export const defaultMaxAttempts = 5

/** The flags every command shares; all optional, all strings, as oclif parses them. */
export interface SettingFlags {
  'shared-bucket'?: string
  isolated?: boolean
  region?: string
  profile?: string
  'endpoint-url'?: string
  'account-id'?: string
  namespace?: string
  'kms-key-id'?: string
  'archive-findings-after-days'?: number
  'noncurrent-days'?: number
  'allow-principal'?: string[]
  'access-log-bucket'?: string
  'cloudtrail-trail'?: string
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
  const everywhere = nonEmpty(env.AWS_ENDPOINT_URL)
  const endpoints: Endpoints = {
    s3: nonEmpty(flags['endpoint-url']) ?? nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? everywhere,
    sts: nonEmpty(env.AWS_ENDPOINT_URL_STS) ?? everywhere,
    s3Control: nonEmpty(env.AWS_ENDPOINT_URL_S3_CONTROL) ?? everywhere,
    serviceQuotas: nonEmpty(env.AWS_ENDPOINT_URL_SERVICE_QUOTAS) ?? everywhere,
    cloudtrail: nonEmpty(env.AWS_ENDPOINT_URL_CLOUDTRAIL) ?? everywhere,
    iam: nonEmpty(env.AWS_ENDPOINT_URL_IAM) ?? everywhere,
  }
  const accountId = nonEmpty(flags['account-id']) ?? nonEmpty(env.AUDITFORGE_ACCOUNT_ID)
  const region = nonEmpty(flags.region) ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION)

  if (sharedBucket !== undefined) validateBucketName(sharedBucket, 'shared bucket name')
  validateEndpoint(nonEmpty(flags['endpoint-url']), '--endpoint-url')
  validateEndpoint(nonEmpty(env.AWS_ENDPOINT_URL_S3), 'AWS_ENDPOINT_URL_S3')
  validateEndpoint(nonEmpty(env.AWS_ENDPOINT_URL_STS), 'AWS_ENDPOINT_URL_STS')
  validateEndpoint(nonEmpty(env.AWS_ENDPOINT_URL_S3_CONTROL), 'AWS_ENDPOINT_URL_S3_CONTROL')
  validateEndpoint(nonEmpty(env.AWS_ENDPOINT_URL_SERVICE_QUOTAS), 'AWS_ENDPOINT_URL_SERVICE_QUOTAS')
  validateEndpoint(nonEmpty(env.AWS_ENDPOINT_URL_CLOUDTRAIL), 'AWS_ENDPOINT_URL_CLOUDTRAIL')
  validateEndpoint(nonEmpty(env.AWS_ENDPOINT_URL_IAM), 'AWS_ENDPOINT_URL_IAM')
  validateEndpoint(everywhere, 'AWS_ENDPOINT_URL')
  const connect = seconds(env, 'AUDITFORGE_CONNECT_TIMEOUT', defaultConnectTimeoutSeconds)
  const idle = seconds(env, 'AUDITFORGE_READ_TIMEOUT', defaultReadTimeoutSeconds)
  const maxAttempts = attempts(env)
  if (accountId !== undefined) validateAccountId(accountId)
  if (region !== undefined && !/^[a-z]{2}(-[a-z0-9]+)+-\d{1,2}$/.test(region)) {
    throw invalidInput(`Invalid AWS region ${JSON.stringify(region)}`, 'Regions look like us-east-1 or eu-west-2.')
  }

  return {
    sharedBucket,
    isolated: flags.isolated ?? isEnabled(env.AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET),
    bucketPrefix: validateBucketPrefix(env.AUDITFORGE_BUCKET_PREFIX ?? defaultBucketPrefix),
    namespace: resolveNamespace(flags, env),
    region,
    profile: nonEmpty(flags.profile),
    endpoints,
    accountId,
    timeBounds: {connect, idle, attempt: 4 * idle, longAttempt: 30 * idle},
    maxAttempts,
    checksums: endpoints.s3 === undefined ? {} : checksumsOnCustomEndpoint(env),
    controls: resolveControlSettings(flags, env),
  }
}

function resolveNamespace(flags: SettingFlags, env: Environment): BucketNamespace {
  const value = nonEmpty(flags.namespace) ?? nonEmpty(env.AUDITFORGE_BUCKET_NAMESPACE) ?? 'global'
  if (!(bucketNamespaces as readonly string[]).includes(value)) {
    throw invalidInput(
      `Invalid bucket namespace ${JSON.stringify(value)} (--namespace / AUDITFORGE_BUCKET_NAMESPACE): expected ${bucketNamespaces.join(' or ')}`,
    )
  }
  return value as BucketNamespace
}

const kmsKeyPattern =
  /^(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/[A-Za-z0-9/_+=.@-]{1,250}|alias\/[A-Za-z0-9/_-]{1,250}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/

function resolveControlSettings(flags: SettingFlags, env: Environment): ControlSettings {
  const kmsKeyId = nonEmpty(flags['kms-key-id']) ?? nonEmpty(env.AUDITFORGE_KMS_KEY_ID)
  if (kmsKeyId !== undefined && !kmsKeyPattern.test(kmsKeyId)) {
    throw invalidInput(
      `Invalid KMS key ${JSON.stringify(kmsKeyId)} (--kms-key-id / AUDITFORGE_KMS_KEY_ID)`,
      'Give a key id, a key ARN, an alias (alias/name) or an alias ARN.',
    )
  }
  const archive = days(
    flags['archive-findings-after-days'],
    env,
    'AUDITFORGE_ARCHIVE_FINDINGS_AFTER_DAYS',
    '--archive-findings-after-days',
    0,
  )
  const noncurrentDays = days(flags['noncurrent-days'], env, 'AUDITFORGE_NONCURRENT_DAYS', '--noncurrent-days', 1)
  const principals = flags['allow-principal']?.length
    ? flags['allow-principal']
    : (nonEmpty(env.AUDITFORGE_ALLOWED_PRINCIPALS)?.split(/[\s,]+/) ?? [])
  const allowedPrincipals = [...new Set(principals.map((arn) => validatePrincipal(arn.trim())))]
  const accessLogBucket = nonEmpty(flags['access-log-bucket']) ?? nonEmpty(env.AUDITFORGE_ACCESS_LOG_BUCKET)
  if (accessLogBucket !== undefined)
    validateBucketName(accessLogBucket, 'access log bucket (--access-log-bucket / AUDITFORGE_ACCESS_LOG_BUCKET)')
  const cloudtrailTrail = nonEmpty(flags['cloudtrail-trail']) ?? nonEmpty(env.AUDITFORGE_CLOUDTRAIL_TRAIL)
  if (cloudtrailTrail !== undefined && !trailPattern.test(cloudtrailTrail)) {
    throw invalidInput(
      `Invalid trail ${JSON.stringify(cloudtrailTrail)} (--cloudtrail-trail / AUDITFORGE_CLOUDTRAIL_TRAIL)`,
      'Give the trail name (3 to 128 letters, digits, ".", "_" or "-") or its ARN.',
    )
  }
  return {
    kmsKeyId,
    archiveFindingsAfterDays: archive ?? defaultArchiveFindingsAfterDays,
    noncurrentDays,
    allowedPrincipals,
    accessLogBucket,
    cloudtrailTrail,
  }
}

/** A trail's name (3 to 128 characters, starting and ending with a letter or digit) or ARN. */
const trailPattern =
  /^([A-Za-z0-9][A-Za-z0-9._-]{1,126}[A-Za-z0-9]|arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:\d{12}:trail\/[A-Za-z0-9._-]{3,128})$/

/** A whole number of days from the flag, else the environment; at least `min`, at most 100 years. */
function days(
  flag: number | undefined,
  env: Environment,
  name: string,
  flagName: string,
  min: number,
): number | undefined {
  const text = flag === undefined ? nonEmpty(env[name]) : String(flag)
  if (text === undefined) return undefined
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!(value >= min && value <= 36_500)) {
    throw invalidInput(
      `Invalid ${flag === undefined ? name : flagName} ${JSON.stringify(text)}: expected a whole number of days from ${min} to 36500`,
    )
  }
  return value
}

/**
 * Many S3-compatible servers reject or mis-validate the CRC checksums the SDK sends and checks
 * by default, so on a custom endpoint both happen only when the operation requires them. The
 * SDK's own variables, when set, are left for the SDK to read.
 */
function checksumsOnCustomEndpoint(env: Environment): Settings['checksums'] {
  return {
    ...(nonEmpty(env.AWS_REQUEST_CHECKSUM_CALCULATION) ? {} : {requestChecksumCalculation: 'WHEN_REQUIRED'}),
    ...(nonEmpty(env.AWS_RESPONSE_CHECKSUM_VALIDATION) ? {} : {responseChecksumValidation: 'WHEN_REQUIRED'}),
  }
}

/** A timeout in seconds (fractions allowed), more than 0 and at most an hour; as milliseconds. */
function seconds(env: Environment, name: string, fallback: number): number {
  const value = nonEmpty(env[name])
  if (value === undefined) return fallback * 1000
  const parsed = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN
  if (!(parsed > 0 && parsed <= 3600)) {
    throw invalidInput(
      `Invalid ${name} ${JSON.stringify(value)}: expected seconds, more than 0 and at most 3600`,
      `Unset it for the default of ${fallback} s.`,
    )
  }
  return Math.round(parsed * 1000)
}

function attempts(env: Environment): number {
  const value = nonEmpty(env.AWS_MAX_ATTEMPTS)
  if (value === undefined) return defaultMaxAttempts
  const parsed = /^\d+$/.test(value) ? Number(value) : Number.NaN
  if (!(parsed >= 1 && parsed <= 20)) {
    throw invalidInput(
      `Invalid AWS_MAX_ATTEMPTS ${JSON.stringify(value)}: expected a whole number from 1 to 20`,
      `Unset it for the default of ${defaultMaxAttempts}.`,
    )
  }
  return parsed
}

function validateEndpoint(endpoint: string | undefined, source: string): void {
  if (endpoint === undefined) return
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    throw invalidInput(
      `Invalid endpoint URL ${JSON.stringify(endpoint)} (${source})`,
      'Endpoints look like http://127.0.0.1:5000.',
    )
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidInput(`Invalid endpoint URL ${JSON.stringify(endpoint)} (${source}): use http:// or https://`)
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
