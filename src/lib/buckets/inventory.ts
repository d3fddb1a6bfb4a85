/** The per-engagement buckets auditforge manages in this account, found by listing and tags. */
import pLimit from 'p-limit'

import type {AwsContext} from '../aws.js'
import {AuditforgeError, awsErrorCode} from '../errors.js'
import {parseEngagementBucketName} from '../layout.js'
import {listBucketNames, readBucketTags} from '../s3/index.js'
import {indexTagKey, managedByTag} from './tags.js'

export interface BucketInventory {
  /** How many buckets the account has in all (for quota headroom). */
  total: number
  /** Every bucket name the listing returned. */
  names: Set<string>
  /** Per-engagement buckets of this account tagged as auditforge's, with their index binding (undefined: none). */
  managed: Map<string, string | undefined>
}

/**
 * Lists the account's buckets, keeps those named like a per-engagement bucket of this account,
 * and reads their tags (eight at a time) to keep those tagged as auditforge's.
 */
export async function listManagedBuckets(context: AwsContext): Promise<BucketInventory> {
  const owner = await context.accountId()
  const names = new Set<string>()
  for await (const name of listBucketNames(context.s3)) names.add(name)
  const candidates = [...names].filter(
    (name) => parseEngagementBucketName(context.settings.bucketPrefix, name)?.accountId === owner,
  )
  const limit = pLimit(8)
  const managed = new Map<string, string | undefined>()
  await Promise.all(
    candidates.map((name) =>
      limit(async () => {
        let tags: Map<string, string>
        try {
          tags = await readBucketTags(context.s3, name, owner)
        } catch (error) {
          // Deleted between the listing and this read (a decommission running meanwhile): gone.
          if (awsErrorCode(error instanceof AuditforgeError ? error.cause : error) !== 'NoSuchBucket') throw error
          names.delete(name)
          return
        }
        if (tags.get(managedByTag.Key!) === managedByTag.Value) managed.set(name, tags.get(indexTagKey))
      }),
    ),
  )
  return {total: names.size, names, managed}
}
