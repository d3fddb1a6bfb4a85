/** The names of per-engagement buckets for this account and prefix, and telling them apart from others. */
import type {AwsContext} from '../aws.js'
import {refused} from '../errors.js'
import {
  type BucketNamespace,
  type ParsedBucketName,
  bucketNamespaces,
  engagementBucketName,
  isEngagementId,
  parseEngagementBucketName,
  validateBucketName,
} from '../layout.js'

/** The region buckets are created in: the configured one, else the client's (a profile's). */
export async function regionOf(context: AwsContext): Promise<string | undefined> {
  return context.settings.region ?? (await context.s3.config.region().catch(() => undefined))
}

/**
 * The per-engagement bucket name for this account and prefix, in the configured namespace (or
 * the one given): `<prefix><id>-<account>`, or `<prefix><id>-<account>-<region>-an`.
 */
export async function bucketNameFor(
  context: AwsContext,
  engagementId: string,
  namespace: BucketNamespace = context.settings.namespace,
): Promise<string> {
  const region = namespace === 'account-regional' ? await regionOf(context) : undefined
  return engagementBucketName(context.settings.bucketPrefix, engagementId, await context.accountId(), {
    namespace,
    region,
  })
}

/** Both names the engagement's bucket may have, the configured namespace's first. */
export async function bucketNamesFor(context: AwsContext, engagementId: string): Promise<string[]> {
  const namespaces = [
    context.settings.namespace,
    ...bucketNamespaces.filter((namespace) => namespace !== context.settings.namespace),
  ]
  const names: string[] = []
  for (const namespace of namespaces) {
    try {
      names.push(await bucketNameFor(context, engagementId, namespace))
    } catch {
      // A name that cannot be built (no region known, too long) cannot exist either.
    }
  }
  return names
}

/** The namespace a per-engagement bucket name belongs to. */
export function namespaceOf(parsed: ParsedBucketName): BucketNamespace {
  return parsed.region === undefined ? 'global' : 'account-regional'
}

/** Splits a per-engagement bucket name of either form; a name of another form is refused (exit 5). */
export function parsePerEngagementBucket(context: AwsContext, bucket: string): ParsedBucketName {
  validateBucketName(bucket)
  const parsed = parseEngagementBucketName(context.settings.bucketPrefix, bucket)
  if (!parsed) {
    const prefix = context.settings.bucketPrefix
    throw refused(
      `${bucket} is not a per-engagement bucket name (${prefix}<id>-<account id>, or ${prefix}<id>-<account id>-<region>-an)`,
      isEngagementId(bucket)
        ? `${bucket} is an engagement id; this takes its bucket's name, which \`auditforge engagement show ${bucket}\` prints.`
        : 'Per-engagement buckets are named like metis-af-6715f196fa40-741783034843; check AUDITFORGE_BUCKET_PREFIX.',
    )
  }
  return parsed
}
