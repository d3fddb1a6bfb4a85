/**
 * The flags that choose what the bucket controls should be. Shared by every command that
 * provisions a per-engagement bucket (`engagement create --isolated`, `bucket provision`,
 * `migrate --execute`) and by `bucket verify`, which checks and repairs against the same
 * choices. Each has an environment variable (CI, the ECS task definition); the base command
 * resolves them flag > environment > default into `settings.controls` (src/lib/config.ts).
 */
import {Flags} from '@oclif/core'

import {bucketNamespaces} from '../lib/layout.js'

const helpGroup = 'BUCKET CONTROLS'

export const bucketControlFlags = {
  'kms-key-id': Flags.string({
    helpGroup,
    summary:
      'Default encryption SSE-KMS with this key and an S3 Bucket Key (default: AES256; an SSE-KMS bucket always stays SSE-KMS). Env: AUDITFORGE_KMS_KEY_ID.',
  }),
  'archive-findings-after-days': Flags.integer({
    helpGroup,
    min: 0,
    max: 36_500,
    summary:
      'Lifecycle: move findings.json to DEEP_ARCHIVE this many days after it was written; 0 disables (default 90). Env: AUDITFORGE_ARCHIVE_FINDINGS_AFTER_DAYS.',
  }),
  'allow-principal': Flags.string({
    helpGroup,
    multiple: true,
    summary:
      "Least privilege: the bucket policy denies every principal not matching one of these ARNs (aws:PrincipalArn, ArnNotLike; a role's ARN with its path; wildcards allowed); repeatable. Must include the caller. Env: AUDITFORGE_ALLOWED_PRINCIPALS (comma-separated).",
  }),
  'access-log-bucket': Flags.string({
    helpGroup,
    summary:
      'Server access logging into this bucket, under auditforge/access-logs/<engagement id>/ (it must let logging.s3.amazonaws.com write). Env: AUDITFORGE_ACCESS_LOG_BUCKET.',
  }),
  'cloudtrail-trail': Flags.string({
    helpGroup,
    summary:
      "Add an advanced event selector for the bucket's object-level (data) events to this existing trail (name or ARN). Env: AUDITFORGE_CLOUDTRAIL_TRAIL.",
  }),
  'noncurrent-days': Flags.integer({
    helpGroup,
    min: 1,
    max: 36_500,
    summary:
      'Lifecycle: expire object versions this many days after they stop being current (default: never; versions are evidence). Env: AUDITFORGE_NONCURRENT_DAYS.',
  }),
}

/** For the commands that decommission a bucket: the trail its data-events selector comes off. */
export const trailCleanupFlags = {
  'cloudtrail-trail': Flags.string({
    helpGroup,
    summary:
      "Take the bucket's data-events selector off this trail after the bucket is deleted (a trail holds at most 500 selector conditions). Env: AUDITFORGE_CLOUDTRAIL_TRAIL.",
  }),
}

/**
 * Everything a command that creates per-engagement buckets takes: the controls, and the
 * namespace new names live in (a bucket of either form is recognised whatever it says).
 */
export const bucketProvisionFlags = {
  namespace: Flags.option({
    helpGroup,
    options: bucketNamespaces,
    summary:
      'Where new bucket names live: global (<prefix><id>-<account>) or account-regional (<prefix><id>-<account>-<region>-an, which no other account can create). Env: AUDITFORGE_BUCKET_NAMESPACE.',
  })(),
  ...bucketControlFlags,
}
