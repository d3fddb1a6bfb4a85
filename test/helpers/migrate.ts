import {GetObjectCommand, type S3Client} from '@aws-sdk/client-s3'

import type {EvidenceLine} from '../../src/lib/migrate/evidence.js'
import type {VerificationDifference} from '../../src/results/migrate.js'

/** The `--json` document of `auditforge migrate`, as the tests read it. */
export interface Outcome {
  engagement_id: string
  target_bucket: string
  objects: number
  bytes: number
  status: string
  copied: number
  skipped_existing: number
  differences?: VerificationDifference[] | null
  run_id?: string
  late_writes?: number
  late_write_conflicts?: string[]
  changed_since_migration?: number
  new_in_target?: number
  error?: string
  error_code?: string
  batch?: {
    job_id: string | null
    reattached: boolean
    tasks: number
    succeeded: number
    failed: number
    retried_locally: number
    copied_locally: number
  }
}

export interface MigrateJson {
  source_bucket: string
  status: string
  mode: string
  engagements: Outcome[]
  totals: {engagements: number; objects: number; bytes: number; copied: number; skipped_existing: number}
  error: {code: string; message: string; exit: number; suggestion: string | null} | null
}

/** An evidence line for tests: source version sv (ETag "s") copied to target version tv (ETag "t"). */
export function evidenceLine(
  key: string,
  action: EvidenceLine['action'] = 'copied',
  overrides: Partial<EvidenceLine> = {},
): EvidenceLine {
  return {
    key,
    size: 10,
    source_etag: '"s"',
    source_version_id: 'sv',
    target_etag: '"t"',
    target_version_id: 'tv',
    checksum_algorithm: null,
    checksum_type: null,
    checksum_value: null,
    action,
    ...overrides,
  }
}

/** The key of an engagement's migration lease in the shared bucket, as the README documents it. */
export const leaseKey = (id: string): string => `auditforge/leases/migrate-${id}.json`

/** The lease on an engagement as stored, or undefined when there is none. */
export async function leaseOn(s3: S3Client, bucket: string, id: string): Promise<Record<string, unknown> | undefined> {
  try {
    const reply = await s3.send(new GetObjectCommand({Bucket: bucket, Key: leaseKey(id)}))
    return JSON.parse(await reply.Body!.transformToString())
  } catch {
    return undefined
  }
}
