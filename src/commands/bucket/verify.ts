import {Args, Flags} from '@oclif/core'

import {AuditforgeCommand} from '../../base-command.js'
import {type BucketCheck, checkBucketControls, repairBucketControls} from '../../lib/buckets.js'
import {EngagementIndex} from '../../lib/engagement-index.js'
import {AuditforgeError, ExitCode, invalidInput} from '../../lib/errors.js'
import {validateBucketName} from '../../lib/layout.js'
import {renderTable} from '../../ui/table.js'

interface VerifyOutput {
  ok: boolean
  buckets: BucketCheck[]
}

export default class BucketVerify extends AuditforgeCommand<typeof BucketVerify, VerifyOutput> {
  static override summary = 'Check (and with --fix repair) the controls on per-engagement buckets.'
  static override description = `Checks each control: owned by this account, bound to this engagement index (tag auditforge:index; --fix binds an unbound bucket only when a record of this index points at it, and never rebinds one bound elsewhere), Object Ownership BucketOwnerEnforced, versioning Enabled, default encryption AES256 (aws:kms also passes and is never downgraded), all four public-access-block settings, and the auditforge tags. Prints a pass/fail table; exits 4 when any control has drifted. --fix re-applies the failing controls and checks again; it never touches objects.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> metis-af-6715f196fa40-741783034843',
    '<%= config.bin %> <%= command.id %> --all',
    '<%= config.bin %> <%= command.id %> --all --fix --json',
  ]

  static override strict = false
  static override args = {
    bucket: Args.string({description: 'Per-engagement bucket name(s).'}),
  }

  static override flags = {
    all: Flags.boolean({summary: 'Check every bucket an engagement record points at.'}),
    fix: Flags.boolean({summary: 'Re-apply the controls that failed, then check again.'}),
  }

  public async run(): Promise<VerifyOutput> {
    const buckets = [...new Set(this.positionals)].map((bucket) => validateBucketName(bucket))
    if (buckets.length === 0 && !this.flags.all) throw invalidInput('Name at least one bucket, or pass --all')
    const context = await this.aws()
    if (this.flags.all) {
      const records = await new EngagementIndex(context.s3, this.sharedBucket).list()
      for (const record of records) if (record.source_bucket && !buckets.includes(record.source_bucket)) buckets.push(record.source_bucket)
    }

    const checks: BucketCheck[] = []
    for (const [i, bucket] of buckets.entries()) {
      this.spinner.start(`${this.flags.fix ? 'Checking and repairing' : 'Checking'} ${bucket} (${i + 1}/${buckets.length})`)
      checks.push(await (this.flags.fix ? repairBucketControls(context, bucket) : checkBucketControls(context, bucket)))
    }
    this.spinner.stop()

    const ok = checks.every((check) => check.ok)
    if (!this.jsonEnabled()) {
      if (checks.length === 0) this.log('No per-engagement buckets to check.')
      for (const check of checks) {
        this.log(`${check.bucket}  ${check.ok ? 'ok' : 'DRIFTED'}`)
        this.log(renderTable(['  Control', 'Result', 'Found'], check.controls.map((control) => [`  ${control.control}`, control.ok ? 'pass' : 'FAIL', control.actual])))
      }
    }
    if (!ok) {
      const drifted = checks.filter((check) => !check.ok).length
      const failure = new AuditforgeError(`${drifted} of ${checks.length} buckets have drifted controls`, {
        code: 'drift',
        exit: ExitCode.verificationFailed,
        suggestion: this.flags.fix ? undefined : 'Run again with --fix to re-apply them.',
      })
      if (this.jsonEnabled()) process.exitCode = failure.exit
      else throw failure
    }
    return {ok, buckets: checks}
  }
}
