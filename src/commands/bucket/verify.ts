import {Args, Flags} from '@oclif/core'

import {AuditforgeCommand} from '../../base-command.js'
import {bucketControlFlags} from '../../flags/bucket-controls.js'
import {
  type BucketCheck,
  type StandardName,
  bucketsToVerify,
  checkBucketControls,
  repairBucketControls,
  standardNames,
} from '../../lib/buckets.js'
import {AuditforgeError, ExitCode, invalidInput, refused} from '../../lib/errors.js'
import {validateBucketName} from '../../lib/layout.js'
import type {BucketReport, BucketVerifyResult} from '../../results/bucket.js'
import {renderBucketCheck} from '../../ui/controls.js'
import {plural} from '../../ui/format.js'

export default class BucketVerify extends AuditforgeCommand<typeof BucketVerify, BucketVerifyResult> {
  static override summary = 'Check (and with --fix repair) the controls on per-engagement buckets.'
  static override description = `Checks every control of the controls table (README, "Bucket controls"): owned by this account, public access blocked, Object Ownership BucketOwnerEnforced, default encryption (AES256, or SSE-KMS, which is never downgraded; with --kms-key-id, SSE-KMS with that key), versioning, the TLS-only bucket policy, the least-privilege statement (with --allow-principal), the lifecycle rules, server access logging and CloudTrail data events (each when configured), the auditforge tags, and the binding to this engagement index (tag auditforge:index; --fix binds an unbound bucket only when a record of this index points at it, and never rebinds one bound elsewhere). A control that does not apply here is "skipped", never "pass": the TLS-only policy on a plain-http endpoint, an opt-in control that is not configured. The controls are checked against the same choices provisioning uses (the BUCKET CONTROLS flags or their environment variables). Prints a table per bucket (--standard fsbp|cis|prowler labels each row with that standard's control ids, for an auditor); exits 4 when any control has drifted. --fix re-applies the failing controls and checks again; it never touches objects.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> metis-af-6715f196fa40-741783034843',
    '<%= config.bin %> <%= command.id %> --all --standard fsbp',
    '<%= config.bin %> <%= command.id %> --all --fix --json',
  ]

  static override strict = false
  static override args = {
    bucket: Args.string({description: 'Per-engagement bucket name(s).'}),
  }

  static override flags = {
    all: Flags.boolean({
      summary:
        'Check every bucket an engagement record points at, and every managed bucket of this index in the account.',
    }),
    fix: Flags.boolean({summary: 'Re-apply the controls that failed, then check again.'}),
    standard: Flags.option({
      options: standardNames,
      summary: 'Label each row with the control ids of this standard (AWS FSBP, CIS AWS Foundations, Prowler).',
    })(),
    ...bucketControlFlags,
  }

  public async run(): Promise<BucketVerifyResult> {
    const buckets = [...new Set(this.positionals)].map((bucket) => validateBucketName(bucket))
    if (buckets.length === 0 && !this.flags.all) throw invalidInput('Name at least one bucket, or pass --all')
    const standard = this.flags.standard ?? null
    const context = await this.aws()
    if (this.flags.all)
      for (const bucket of await bucketsToVerify(context, this.sharedBucket))
        if (!buckets.includes(bucket)) buckets.push(bucket)

    const checks: BucketCheck[] = []
    for (const [i, bucket] of buckets.entries()) {
      this.spinner.start(
        `${this.flags.fix ? 'Checking and repairing' : 'Checking'} ${bucket} (${i + 1}/${buckets.length})`,
      )
      checks.push(await (this.flags.fix ? repairBucketControls(context, bucket) : checkBucketControls(context, bucket)))
    }
    this.spinner.stop()

    const ok = checks.every((check) => check.ok)
    if (!this.jsonEnabled()) {
      if (checks.length === 0) this.log('No per-engagement buckets to check.')
      for (const check of checks) {
        this.log(`${check.bucket}  ${check.ok ? 'ok' : 'DRIFTED'}`)
        this.log(renderBucketCheck(check, standard ?? undefined))
        if (check.fix_refused) this.warning(`--fix wrote nothing to ${check.bucket}: ${check.fix_refused}`)
      }
    }
    const result = {ok, standard, buckets: checks.map((check) => bucketReport(check, standard))}
    return this.finish<BucketVerifyResult>(result, ok ? undefined : this.failure(checks))
  }

  /** Why the run fails: a bucket --fix may not touch (exit 5), else drift (exit 4). */
  private failure(checks: BucketCheck[]): AuditforgeError {
    const untouched = checks.filter((check) => check.fix_refused).length
    if (untouched > 0) {
      return refused(
        `${untouched} of ${plural(checks.length, 'bucket')} ${untouched === 1 ? 'belongs' : 'belong'} to another engagement index or to none; --fix wrote nothing to ${untouched === 1 ? 'it' : 'them'}`,
        `Run --fix against the index that owns a bucket (--shared-bucket), or bind an unbound one with \`auditforge bucket provision <engagement id> --force\`.`,
      )
    }
    const drifted = checks.filter((check) => !check.ok).length
    return new AuditforgeError(
      `${drifted} of ${plural(checks.length, 'bucket')} ${drifted === 1 ? 'has' : 'have'} drifted controls`,
      {
        code: 'drift',
        exit: ExitCode.verificationFailed,
        suggestion: this.flags.fix ? undefined : 'Run again with --fix to re-apply them.',
      },
    )
  }
}

/** A bucket's check as the result reports it: a skipped control is neither ok nor failed (null). */
function bucketReport(check: BucketCheck, standard: StandardName | null): BucketReport {
  return {
    bucket: check.bucket,
    engagement_id: check.engagementId,
    ok: check.ok,
    controls: check.controls.map(({actual, control, expected, ok, standards, status}) => ({
      control,
      status,
      ok: status === 'skipped' ? null : ok,
      expected,
      actual,
      standards,
      standard_ids: standard ? (standards[standard] ?? []) : null,
    })),
    fix_refused: check.fix_refused ?? null,
  }
}
