import {Args, Flags} from '@oclif/core'

import {AuditforgeCommand, errorBody} from '../../base-command.js'
import {bucketControlFlags} from '../../flags/bucket-controls.js'
import {
  type BucketVerification,
  type StandardName,
  bucketsToVerify,
  isUnchecked,
  standardNames,
  verificationFailure,
  verifyBuckets,
} from '../../lib/buckets.js'
import {invalidInput} from '../../lib/errors.js'
import {validateBucketName} from '../../lib/layout.js'
import type {BucketReport, BucketVerifyResult} from '../../results/bucket.js'
import {renderBucketCheck} from '../../ui/controls.js'

export default class BucketVerify extends AuditforgeCommand<typeof BucketVerify, BucketVerifyResult> {
  static override summary = 'Check (and with --fix repair) the controls on per-engagement buckets.'
  static override description = `Checks every control of the controls table (README, "Bucket controls"): owned by this account, public access blocked, Object Ownership BucketOwnerEnforced, default encryption (AES256, or SSE-KMS, which is never downgraded; with --kms-key-id, SSE-KMS with that key), versioning, the TLS-only bucket policy, the least-privilege statement (with --allow-principal), the lifecycle rules, server access logging and CloudTrail data events (each when configured), the auditforge tags, and the binding to this engagement index (tag auditforge:index; --fix binds an unbound bucket only when a record of this index points at it, and never rebinds one bound elsewhere). A control that does not apply here is "skipped", never "pass": the TLS-only policy on a plain-http endpoint, an opt-in control that is not configured. The controls are checked against the same choices provisioning uses (the BUCKET CONTROLS flags or their environment variables). Prints a table per bucket (--standard fsbp|cis|prowler labels each row with that standard's control ids, for an auditor); exits 4 when any control has drifted. --fix re-applies the failing controls and checks again; it never touches objects.

A bucket that cannot be checked (it does not exist, it is not a per-engagement bucket, access to it is denied) gets a NOT CHECKED line (under --json, an entry with its error) and the others are still checked. One exit code for the run, the first that applies: 5 when --fix may not touch a bucket or a bucket was refused, 4 when a control drifted, 1 when a bucket could not be read, 3 when a bucket does not exist.`

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

    const results = await verifyBuckets(context, buckets, {
      fix: this.flags.fix,
      onBucket: (bucket, i) =>
        this.spinner.start(
          `${this.flags.fix ? 'Checking and repairing' : 'Checking'} ${bucket} (${i + 1}/${buckets.length})`,
        ),
    })
    this.spinner.stop()

    if (!this.jsonEnabled()) {
      if (results.length === 0) this.log('No per-engagement buckets to check.')
      for (const result of results) {
        if (isUnchecked(result)) {
          this.log(`${result.bucket}  NOT CHECKED: ${result.error.message}`)
          continue
        }
        this.log(`${result.bucket}  ${result.ok ? 'ok' : 'DRIFTED'}`)
        this.log(renderBucketCheck(result, standard ?? undefined))
        if (result.fix_refused) this.warning(`--fix wrote nothing to ${result.bucket}: ${result.fix_refused}`)
      }
    }
    const failure = verificationFailure(results, {fix: this.flags.fix})
    const report = {
      ok: failure === undefined,
      standard,
      buckets: results.map((result) => bucketReport(result, standard)),
    }
    return this.finish<BucketVerifyResult>(report, failure)
  }
}

/** A bucket's verdict as the result reports it: a skipped control is neither ok nor failed (null); an unchecked bucket has no controls and its error. */
function bucketReport(result: BucketVerification, standard: StandardName | null): BucketReport {
  if (isUnchecked(result))
    return {
      bucket: result.bucket,
      engagement_id: result.engagementId,
      ok: false,
      controls: [],
      fix_refused: null,
      error: errorBody(result.error),
    }
  return {
    bucket: result.bucket,
    engagement_id: result.engagementId,
    ok: result.ok,
    controls: result.controls.map(({actual, control, expected, ok, standards, status}) => ({
      control,
      status,
      ok: status === 'skipped' ? null : ok,
      expected,
      actual,
      standards,
      standard_ids: standard ? (standards[standard] ?? []) : null,
    })),
    fix_refused: result.fix_refused ?? null,
    error: null,
  }
}
