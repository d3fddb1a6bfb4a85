import type {EvidenceLine} from '../../src/lib/migrate/evidence.js'

/** The `--json` document of `auditforge migrate`, as the tests read it. */
export interface Outcome {
  engagement_id: string
  target_bucket: string
  objects: number
  bytes: number
  status: string
  copied: number
  skipped_existing: number
  differences?: string[]
  run_id?: string
  late_writes?: number
  late_write_conflicts?: string[]
  changed_since_migration?: number
  new_in_target?: number
  error?: string
  error_code?: string
  batch?: {job_id: string | null; reattached: boolean; tasks: number; succeeded: number; failed: number; retried_locally: number; copied_locally: number}
}

export interface MigrateJson {
  source_bucket: string
  status: string
  mode: string
  engagements: Outcome[]
  totals: {engagements: number; objects: number; bytes: number; copied: number; skipped_existing: number}
}

/** An evidence line for tests: source version sv (ETag "s") copied to target version tv (ETag "t"). */
export function evidenceLine(key: string, action: EvidenceLine['action'] = 'copied', overrides: Partial<EvidenceLine> = {}): EvidenceLine {
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
