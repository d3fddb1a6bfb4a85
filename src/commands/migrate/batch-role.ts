import {Flags} from '@oclif/core'

import {AuditforgeCommand} from '../../base-command.js'
import {validateBucketName, validateEngagementId} from '../../lib/layout.js'
import {batchRolePolicies, validateKmsKeyArn} from '../../lib/migrate/batch/policy.js'
import type {MigrateBatchRoleResult} from '../../results/migrate.js'

export default class MigrateBatchRole extends AuditforgeCommand<typeof MigrateBatchRole, MigrateBatchRoleResult> {
  static override summary = 'Print the IAM policies of the role S3 Batch Operations copies as (migrate --engine batch).'
  static override description = `Prints three JSON policy documents for whoever owns IAM: the role's trust policy (batchoperations.s3.amazonaws.com may assume it, for jobs of this account only), the role's least-privilege permission policy (read the engagements' keys and the Batch Operations manifests in the shared bucket, write the engagement buckets and the completion reports), and the policy the operator running migrate needs (s3:CreateJob, s3:DescribeJob, s3:ListJobs, s3:PutJobTagging, and iam:PassRole on the role). Pass the role's ARN to migrate with --role-arn or AUDITFORGE_BATCH_ROLE_ARN.

--engagement-id narrows the documents to one engagement; --kms-key-arn (repeatable) adds kms:Decrypt and kms:GenerateDataKey on the SSE-KMS keys the copies read or write with; --report-bucket names where the job's completion reports go (default: the shared bucket). Nothing is changed; the only AWS call is sts:GetCallerIdentity, and only when the account is not given (--account-id, AUDITFORGE_ACCOUNT_ID).`

  static override examples = [
    '<%= config.bin %> <%= command.id %> --account-id 741783034843',
    '<%= config.bin %> <%= command.id %> --engagement-id eng-6715f196fa40 --report-bucket platform-batch-reports --json',
    '<%= config.bin %> <%= command.id %> --kms-key-arn arn:aws:kms:eu-west-1:741783034843:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  ]

  static override flags = {
    'engagement-id': Flags.string({summary: 'Only this engagement.'}),
    'report-bucket': Flags.string({summary: 'Bucket of the completion reports (default: the shared bucket).'}),
    'role-arn': Flags.string({
      summary: 'The role, for the caller policy (iam:PassRole). Env: AUDITFORGE_BATCH_ROLE_ARN.',
    }),
    'kms-key-arn': Flags.string({
      multiple: true,
      summary:
        "An SSE-KMS key the copies read or write with (the shared bucket's, the engagement buckets'): the role gets kms:Decrypt and kms:GenerateDataKey on it. Repeatable.",
    }),
  }

  public async run(): Promise<MigrateBatchRoleResult> {
    const {flags} = this
    const engagementId = flags['engagement-id'] === undefined ? undefined : validateEngagementId(flags['engagement-id'])
    const reportBucket =
      flags['report-bucket'] === undefined ? undefined : validateBucketName(flags['report-bucket'], '--report-bucket')
    const kmsKeyArns = (flags['kms-key-arn'] ?? []).map((arn) => validateKmsKeyArn(arn.trim()))
    const sharedBucket = this.sharedBucket
    const accountId = this.settings.accountId ?? (await (await this.aws()).accountId())
    const roleArn = flags['role-arn'] ?? (process.env.AUDITFORGE_BATCH_ROLE_ARN?.trim() || undefined)
    const policies = batchRolePolicies({
      sharedBucket,
      accountId,
      bucketPrefix: this.settings.bucketPrefix,
      reportBucket,
      engagementId,
      roleArn,
      kmsKeyArns,
    })
    if (!this.jsonEnabled()) {
      const block = (title: string, document: unknown) => `${title}\n${JSON.stringify(document, null, 2)}`
      this.log(
        [
          block('Trust policy of the role:', policies.trust_policy),
          block('Permission policy of the role:', policies.permission_policy),
          block('Policy of the operator running migrate --engine batch:', policies.caller_policy),
        ].join('\n\n'),
      )
    }
    return policies
  }
}
