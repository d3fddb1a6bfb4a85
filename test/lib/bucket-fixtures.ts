import {
  GetBucketOwnershipControlsCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
} from '@aws-sdk/client-s3'
import type {AwsStub} from 'aws-sdk-client-mock'

/**
 * auditforge's own bucket-control documents as the library writes them, for the unit tests to
 * serve from mocks and to expect in what is sent: the TLS-only and least-privilege statements,
 * the default lifecycle rules, and the CloudTrail data-events selector of a bucket.
 */

/** The TLS-only statement for `bucket`. */
export function tlsStatementFor(bucket: string) {
  return {
    Sid: 'AuditforgeDenyInsecureTransport',
    Effect: 'Deny',
    Principal: '*',
    Action: 's3:*',
    Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
    Condition: {Bool: {'aws:SecureTransport': 'false'}},
  }
}

/** The least-privilege statement for `bucket`, letting only `principals` through. */
export function leastPrivilegeStatementFor(bucket: string, principals: string[]) {
  return {
    ...tlsStatementFor(bucket),
    Sid: 'AuditforgeDenyOtherPrincipals',
    Condition: {ArnNotLike: {'aws:PrincipalArn': principals}},
  }
}

export const abortRule = {
  ID: 'auditforge-abort-incomplete-multipart-uploads',
  Status: 'Enabled',
  Filter: {Prefix: ''},
  AbortIncompleteMultipartUpload: {DaysAfterInitiation: 7},
}
export const markersRule = {
  ID: 'auditforge-expired-delete-markers',
  Status: 'Enabled',
  Filter: {Prefix: ''},
  Expiration: {ExpiredObjectDeleteMarker: true},
}

/** The rule archiving the engagement's findings.json after `days`. */
export function archiveRuleFor(engagementId: string, days = 90) {
  return {
    ID: 'auditforge-archive-findings',
    Status: 'Enabled',
    Filter: {And: {Prefix: `auditforge/engagements/${engagementId}/findings.json`, ObjectSizeGreaterThan: 0}},
    Transitions: [{Days: days, StorageClass: 'DEEP_ARCHIVE'}],
  }
}

/** The lifecycle rules auditforge writes by default for an engagement. */
export function defaultRulesFor(engagementId: string) {
  return [abortRule, markersRule, archiveRuleFor(engagementId)]
}

/** auditforge's CloudTrail selector for `bucket`'s object-level events. */
export function dataEventsSelectorFor(bucket: string) {
  return {
    Name: `auditforge ${bucket}`,
    FieldSelectors: [
      {Field: 'eventCategory', Equals: ['Data']},
      {Field: 'resources.type', Equals: ['AWS::S3::Object']},
      {Field: 'resources.ARN', StartsWith: [`arn:aws:s3:::${bucket}/`]},
    ],
  }
}

/**
 * The settings every compliant bucket shares, served by the mock: the bucket is there, all four
 * public-access blocks on, BucketOwnerEnforced, versioning enabled. Tests add what they vary.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the S3 client's mock, whatever its generic parameters
export function serveBaselineControls(s3Mock: AwsStub<any, any, any>): void {
  s3Mock.on(HeadBucketCommand).resolves({})
  s3Mock.on(GetPublicAccessBlockCommand).resolves({
    PublicAccessBlockConfiguration: {
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    },
  })
  s3Mock
    .on(GetBucketOwnershipControlsCommand)
    .resolves({OwnershipControls: {Rules: [{ObjectOwnership: 'BucketOwnerEnforced'}]}})
  s3Mock.on(GetBucketVersioningCommand).resolves({Status: 'Enabled'})
}
