import {AuditforgeCommand} from '../base-command.js'
import {runDoctor} from '../lib/doctor.js'
import {AuditforgeError, ExitCode} from '../lib/errors.js'
import type {DoctorResult} from '../results/doctor.js'
import {describeDoctorFailures, renderDoctor} from '../ui/doctor.js'

export default class Doctor extends AuditforgeCommand<typeof Doctor, DoctorResult> {
  static override summary = 'Check credentials, the shared bucket, the index, the endpoint and the engagement buckets.'
  static override description = `Each check is pass, warn or fail: the caller identity; the shared bucket reachable and versioned; the engagement index readable and valid; the endpoint honouring conditional writes (a probe object under auditforge/doctor/ is written and removed again); per-engagement buckets tagged auditforge:managed-by against the records in the index, both ways (a record pointing at a bucket that is gone or was decommissioned, by its tombstone, fails); every control of the controls table on the buckets bound to this index (as \`bucket verify\` checks them, with the same BUCKET CONTROLS environment variables); and bucket-count headroom against the account's quota (from Service Quotas where permitted, else the S3 default of 10,000). Changes nothing else. Exit 4 when any check fails.`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --shared-bucket platform-bucket',
    '<%= config.bin %> <%= command.id %> --json | jq \'.checks[] | select(.status != "pass")\'',
  ]

  public async run(): Promise<DoctorResult> {
    const sharedBucket = this.sharedBucket
    const context = await this.aws()
    this.spinner.start('Checking')
    const checks = await runDoctor(context, sharedBucket, (check) =>
      this.spinner.update(`Checked ${check.check}: ${check.status}`),
    )
    this.spinner.stop()
    const ok = checks.every((check) => check.status !== 'fail')
    if (!this.jsonEnabled()) this.log(renderDoctor(checks))
    const failure = ok
      ? undefined
      : new AuditforgeError(describeDoctorFailures(checks), {code: 'checks_failed', exit: ExitCode.verificationFailed})
    return this.finish<DoctorResult>({ok, checks}, failure)
  }
}
