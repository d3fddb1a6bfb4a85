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
}

export interface MigrateJson {
  source_bucket: string
  status: string
  mode: string
  engagements: Outcome[]
  totals: {engagements: number; objects: number; bytes: number; copied: number; skipped_existing: number}
}
