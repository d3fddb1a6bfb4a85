/**
 * Tombstones: every per-engagement bucket name auditforge decommissions, recorded next to the
 * index in the shared bucket (`auditforge/decommissioned-buckets.json`) with conditional writes,
 * so that a name once given up is not provisioned again by accident: anyone can create a bucket
 * of that name after it is gone, and the application could still be writing to it.
 */
import type {S3Client} from '@aws-sdk/client-s3'

import {AuditforgeError, ExitCode} from '../errors.js'
import {tombstonesKey} from '../layout.js'
import {readText, writeConditionally} from '../s3/index.js'

export interface Tombstone {
  bucket: string
  engagement_id: string
  /** ISO 8601 UTC. */
  decommissioned_at: string
  /** The caller's ARN. */
  decommissioned_by: string
}

interface TombstoneDocument {
  tombstones: Tombstone[]
  [field: string]: unknown
}

function parse(bucket: string, text: string): TombstoneDocument {
  try {
    const document = JSON.parse(text) as Partial<TombstoneDocument>
    if (document === null || typeof document !== 'object' || !Array.isArray(document.tombstones ?? []))
      throw new Error('no tombstones list')
    return {...document, tombstones: document.tombstones ?? []}
  } catch (error) {
    throw new AuditforgeError(`The tombstones s3://${bucket}/${tombstonesKey} are corrupt; they were not changed`, {
      code: 'corrupt_tombstones',
      exit: ExitCode.failed,
      suggestion: 'Restore an earlier version of that object (the shared bucket is versioned).',
      cause: error,
    })
  }
}

async function readDocument(s3: S3Client, sharedBucket: string): Promise<{document: TombstoneDocument; etag?: string}> {
  const stored = await readText(s3, {bucket: sharedBucket, key: tombstonesKey}, 'Reading the tombstones')
  return stored === undefined
    ? {document: {tombstones: []}}
    : {document: parse(sharedBucket, stored.text), etag: stored.etag}
}

/** Every tombstone of this index; none when the object does not exist yet. */
export async function readTombstones(s3: S3Client, sharedBucket: string): Promise<Tombstone[]> {
  return (await readDocument(s3, sharedBucket)).document.tombstones
}

/** Rewrites the document with one change, conditionally, re-reading and re-applying on a conflict. */
async function changeTombstones(
  s3: S3Client,
  sharedBucket: string,
  change: (tombstones: Tombstone[]) => Tombstone[] | undefined,
): Promise<void> {
  await writeConditionally(
    s3,
    {
      bucket: sharedBucket,
      action: 'Writing the tombstones',
      subject: `The tombstones s3://${sharedBucket}/${tombstonesKey}`,
    },
    async () => {
      const {document, etag} = await readDocument(s3, sharedBucket)
      const changed = change(document.tombstones)
      if (changed === undefined) return undefined
      return {
        key: tombstonesKey,
        body: `${JSON.stringify({...document, tombstones: changed}, null, 2)}\n`,
        contentType: 'application/json',
        ifMatch: etag,
      }
    },
  )
}

/** Records a decommissioned bucket; recording it again (a retried decommission) changes nothing. */
export async function recordTombstone(s3: S3Client, sharedBucket: string, tombstone: Tombstone): Promise<void> {
  await changeTombstones(s3, sharedBucket, (tombstones) =>
    tombstones.some((existing) => existing.bucket === tombstone.bucket) ? undefined : [...tombstones, tombstone],
  )
}

/** Removes a bucket's tombstone (its name was provisioned again with `--reuse-name`). */
export async function removeTombstone(s3: S3Client, sharedBucket: string, bucket: string): Promise<void> {
  await changeTombstones(s3, sharedBucket, (tombstones) =>
    tombstones.some((existing) => existing.bucket === bucket)
      ? tombstones.filter((existing) => existing.bucket !== bucket)
      : undefined,
  )
}
