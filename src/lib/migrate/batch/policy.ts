/**
 * The IAM documents `--engine batch` needs, for the operator to hand to whoever owns IAM: the
 * role's trust policy (S3 Batch Operations may assume it, for jobs of this account only), its
 * least-privilege permissions (read the engagements' source keys and the manifests in the shared
 * bucket, write the engagement buckets and the reports), and what the caller itself needs.
 */
import {invalidInput} from '../../errors.js'
import {batchKeys, engagementListPrefixes, validateEngagementId} from '../../layout.js'

export interface BatchRoleRequest {
  sharedBucket: string
  accountId: string
  /** AUDITFORGE_BUCKET_PREFIX: names the engagement buckets. */
  bucketPrefix: string
  /** Default: the shared bucket. */
  reportBucket?: string
  /** Narrows everything to one engagement; default: every engagement of the index. */
  engagementId?: string
  /** The role's ARN, when known, for the caller's iam:PassRole. */
  roleArn?: string
  /**
   * SSE-KMS keys the copies read with (the shared bucket's) or write with (the engagement
   * buckets', --kms-key-id): the role gets kms:Decrypt and kms:GenerateDataKey on them.
   */
  kmsKeyArns?: readonly string[]
}

const kmsKeyArnPattern = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]{1,128}$/

/** Checks one `--kms-key-arn`: a key ARN (IAM policies name keys by ARN, not alias or id). */
export function validateKmsKeyArn(arn: string): string {
  if (!kmsKeyArnPattern.test(arn)) {
    throw invalidInput(
      `Invalid --kms-key-arn ${JSON.stringify(arn)}: expected a KMS key ARN, arn:aws:kms:<region>:<account>:key/<key id>`,
      'An IAM policy names a key by its ARN; an alias or a bare key id does not match it.',
    )
  }
  return arn
}

export interface PolicyDocument {
  Version: '2012-10-17'
  Statement: Record<string, unknown>[]
}

export interface BatchRolePolicies {
  trust_policy: PolicyDocument
  permission_policy: PolicyDocument
  caller_policy: PolicyDocument
}

const s3 = (resource: string) => `arn:aws:s3:::${resource}`

/** The three documents; see the module comment. Builds names only: no AWS call. */
export function batchRolePolicies(request: BatchRoleRequest): BatchRolePolicies {
  const {sharedBucket, accountId, bucketPrefix, engagementId} = request
  const reportBucket = request.reportBucket ?? sharedBucket
  if (engagementId !== undefined) validateEngagementId(engagementId)
  // Each engagement's keys (its list prefixes, some wider than it, as listing is), or every engagement's.
  const sources = engagementId
    ? engagementListPrefixes(engagementId).map((prefix) => s3(`${sharedBucket}/${prefix}*`))
    : ['auditforge/engagements/', 'auditforge/audit_logs/', 'auditforge/deliverables/', 'auditforge/exports/'].map(
        (prefix) => s3(`${sharedBucket}/${prefix}*`),
      )
  const work = engagementId ? batchKeys.prefix(engagementId) : 'auditforge/batch-operations/'
  const targets = engagementId
    ? [
        `${bucketPrefix}${engagementId.slice('eng-'.length)}-${accountId}`,
        `${bucketPrefix}${engagementId.slice('eng-'.length)}-${accountId}-*-an`,
      ]
    : [`${bucketPrefix}*-${accountId}`, `${bucketPrefix}*-${accountId}-*-an`]
  return {
    trust_policy: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: {Service: 'batchoperations.s3.amazonaws.com'},
          Action: 'sts:AssumeRole',
          // Only jobs of this account may use the role (the confused-deputy guard).
          Condition: {StringEquals: {'aws:SourceAccount': accountId}},
        },
      ],
    },
    permission_policy: {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'ReadEngagementSources',
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectTagging', 's3:GetObjectVersionTagging'],
          Resource: sources,
        },
        {
          Sid: 'ReadManifests',
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:GetObjectVersion'],
          Resource: [s3(`${sharedBucket}/${work}*`)],
        },
        {
          Sid: 'WriteEngagementBuckets',
          Effect: 'Allow',
          Action: ['s3:PutObject', 's3:PutObjectTagging'],
          Resource: targets.map((bucket) => s3(`${bucket}/*`)),
        },
        {Sid: 'WriteReports', Effect: 'Allow', Action: ['s3:PutObject'], Resource: [s3(`${reportBucket}/${work}*`)]},
        ...((request.kmsKeyArns ?? []).length > 0
          ? [
              {
                Sid: 'UseEncryptionKeys',
                Effect: 'Allow',
                Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
                Resource: [...new Set(request.kmsKeyArns)],
              },
            ]
          : []),
        {
          Sid: 'LocateBuckets',
          Effect: 'Allow',
          Action: ['s3:GetBucketLocation'],
          Resource: [...new Set([sharedBucket, reportBucket])]
            .map((bucket) => s3(bucket))
            .concat(targets.map((bucket) => s3(bucket))),
        },
      ],
    },
    caller_policy: {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'RunBatchJobs',
          Effect: 'Allow',
          Action: ['s3:CreateJob', 's3:DescribeJob', 's3:ListJobs', 's3:PutJobTagging'],
          Resource: '*',
        },
        {
          Sid: 'PassTheBatchRole',
          Effect: 'Allow',
          Action: 'iam:PassRole',
          Resource: request.roleArn ?? `arn:aws:iam::${accountId}:role/<the Batch Operations role>`,
          Condition: {StringEquals: {'iam:PassedToService': 'batchoperations.s3.amazonaws.com'}},
        },
      ],
    },
  }
}
