import {BucketAlreadyExists, NoSuchBucket, NoSuchKey, S3ServiceException} from '@aws-sdk/client-s3'
import {describe, expect, it} from 'vitest'

import {
  AuditforgeError,
  ExitCode,
  attempt,
  awsErrorCode,
  describeAwsError,
  isAccessDenied,
  isNotFound,
  isPreconditionFailure,
  markCredentialFailure,
  markTransportFailure,
  transportFailure,
} from '../../src/lib/errors.js'
import {s3Error, systemError} from './fixtures.js'

const context = {
  action: 'Reading findings',
  bucket: 'platform-shared',
  key: 'auditforge/engagements/eng-abc/findings.json',
}

describe('describeAwsError', () => {
  it('AccessDenied → exit 1, access_denied, naming action, bucket and key', () => {
    const error = describeAwsError(s3Error('AccessDenied', 403, 'Access Denied'), context)
    expect(error).toBeInstanceOf(AuditforgeError)
    expect(error.exit).toBe(1)
    expect(error.code).toBe('access_denied')
    expect(error.message).toBe(
      'Reading findings s3://platform-shared/auditforge/engagements/eng-abc/findings.json: access denied',
    )
    expect(error.suggestion).toBeTruthy()
    expect(error.message).not.toContain('\n')
  })

  it('a bare 403 without a code is access denied too', () => {
    expect(describeAwsError(s3Error('Forbidden', 403), context).code).toBe('access_denied')
  })

  it('NoSuchBucket → exit 3', () => {
    const error = describeAwsError(
      new NoSuchBucket({$metadata: {httpStatusCode: 404}, message: 'The specified bucket does not exist'}),
      {
        action: 'Listing objects',
        bucket: 'gone-bucket',
      },
    )
    expect(error.exit).toBe(3)
    expect(error.code).toBe('no_such_bucket')
    expect(error.message).toContain('Listing objects')
    expect(error.message).toContain('s3://gone-bucket')
  })

  it('NoSuchKey → exit 3 naming the key', () => {
    const error = describeAwsError(new NoSuchKey({$metadata: {httpStatusCode: 404}, message: 'no'}), context)
    expect(error.exit).toBe(3)
    expect(error.message).toContain('s3://platform-shared/auditforge/engagements/eng-abc/findings.json')
  })

  it('PreconditionFailed / 412 → exit 6 conflict', () => {
    for (const error of [
      s3Error('PreconditionFailed', 412),
      s3Error('Unknown', 412),
      s3Error('ConditionalRequestConflict', 409),
    ]) {
      const described = describeAwsError(error, context)
      expect(described.exit).toBe(6)
      expect(described.code).toBe('conflict')
      expect(described.message).toContain('s3://platform-shared/')
    }
  })

  it('SlowDown → exit 1 throttled', () => {
    const error = describeAwsError(s3Error('SlowDown', 503, 'Please reduce your request rate.'), {
      action: 'Deleting objects',
      bucket: 'b-1',
    })
    expect(error.exit).toBe(1)
    expect(error.code).toBe('throttled')
    expect(error.message).toContain('Deleting objects s3://b-1')
    expect(error.message).toContain('SlowDown')
  })

  it('ECONNREFUSED → network, exit 1', () => {
    const error = describeAwsError(systemError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'), context)
    expect(error.code).toBe('network')
    expect(error.exit).toBe(1)
    expect(error.message).toContain(
      'Reading findings s3://platform-shared/auditforge/engagements/eng-abc/findings.json',
    )
    expect(error.message).toContain('ECONNREFUSED')
  })

  it.each(['ECONNRESET', 'EPIPE', 'EAI_AGAIN'])('a Node system error %s (name "Error") is a network error', (code) => {
    const error = describeAwsError(systemError(code, `read ${code.toLowerCase()}`), context)
    expect(error.code).toBe('network')
    expect(error.exit).toBe(1)
  })

  it('an AggregateError with an empty message (Node 20 happy eyeballs) and code ECONNREFUSED is a network error', () => {
    const error = Object.assign(new AggregateError([systemError('ECONNREFUSED', 'connect ECONNREFUSED ::1:1')], ''), {
      code: 'ECONNREFUSED',
    })
    const described = describeAwsError(error, context)
    expect(described.code).toBe('network')
    expect(described.message).toContain('(ECONNREFUSED)')
  })

  it('anything else is exit 1 with the code and the first line of the message', () => {
    const error = describeAwsError(
      s3Error('InternalError', 500, 'We encountered an internal error.\nPlease try again.'),
      context,
    )
    expect(error.exit).toBe(1)
    expect(error.code).toBe('aws_error')
    expect(error.message).toBe(
      'Reading findings s3://platform-shared/auditforge/engagements/eng-abc/findings.json: InternalError: We encountered an internal error.',
    )
  })

  it('names only the action when there is no bucket, and only the bucket when there is no key', () => {
    expect(describeAwsError(s3Error('AccessDenied', 403), {action: 'Looking up the caller'}).message).toBe(
      'Looking up the caller: access denied',
    )
    expect(describeAwsError(s3Error('AccessDenied', 403), {action: 'Tagging', bucket: 'b-1'}).message).toBe(
      'Tagging s3://b-1: access denied',
    )
  })

  it('passes AuditforgeErrors through unchanged', () => {
    const original = new AuditforgeError('already described', {code: 'refused', exit: ExitCode.refused})
    expect(describeAwsError(original, context)).toBe(original)
  })

  it('keeps the original error as the cause', () => {
    const original = s3Error('AccessDenied', 403)
    expect(describeAwsError(original, context).cause).toBe(original)
  })
})

describe('error classification', () => {
  it('reads the code from Code, name or code', () => {
    expect(awsErrorCode({Code: 'SlowDown'})).toBe('SlowDown')
    expect(awsErrorCode(new BucketAlreadyExists({$metadata: {}, message: 'x'}))).toBe('BucketAlreadyExists')
    expect(awsErrorCode('string')).toBeUndefined()
  })

  it('409 on bucket creation is not a precondition failure', () => {
    expect(isPreconditionFailure(new BucketAlreadyExists({$metadata: {httpStatusCode: 409}, message: 'x'}))).toBe(false)
    expect(isPreconditionFailure(s3Error('BucketNotEmpty', 409))).toBe(false)
    expect(isPreconditionFailure(s3Error('PreconditionFailed', 412))).toBe(true)
  })

  it('recognises not-found and access-denied errors', () => {
    expect(isNotFound(s3Error('NotFound', 404))).toBe(true)
    expect(isNotFound(s3Error('AccessDenied', 403))).toBe(false)
    expect(isAccessDenied(s3Error('AllAccessDisabled', 403))).toBe(true)
    expect(
      isAccessDenied(new S3ServiceException({name: 'Unknown', $fault: 'client', $metadata: {httpStatusCode: 403}})),
    ).toBe(true)
    // A 403 with a code of its own says something more precise than "access denied".
    expect(isAccessDenied(s3Error('InvalidObjectState', 403))).toBe(false)
    expect(isAccessDenied(s3Error('SignatureDoesNotMatch', 403))).toBe(false)
  })

  it('only 412 PreconditionFailed and 409 ConditionalRequestConflict are conflicts', () => {
    expect(isPreconditionFailure(s3Error('PreconditionFailed', 412))).toBe(true)
    expect(isPreconditionFailure(s3Error('ConditionalRequestConflict', 409))).toBe(true)
    expect(
      isPreconditionFailure(
        new S3ServiceException({name: 'Unknown', $fault: 'client', $metadata: {httpStatusCode: 412}}),
      ),
    ).toBe(true)
    for (const code of [
      'OperationAborted',
      'InvalidBucketState',
      'BucketNotEmpty',
      'BucketAlreadyOwnedByYou',
      'SomethingNew',
    ]) {
      expect(isPreconditionFailure(s3Error(code, 409)), code).toBe(false)
    }
  })
})

describe('describeAwsError: precise classes', () => {
  it('409 ConditionalRequestConflict → exit 6 conflict', () => {
    const error = describeAwsError(s3Error('ConditionalRequestConflict', 409), context)
    expect(error.exit).toBe(ExitCode.conflict)
    expect(error.code).toBe('conflict')
  })

  it.each([
    [
      'OperationAborted',
      'operation_aborted',
      /another operation on this bucket is still in progress \(OperationAborted\)$/,
    ],
    ['InvalidBucketState', 'invalid_bucket_state', /the bucket's state does not allow this \(InvalidBucketState: /],
    ['BucketNotEmpty', 'bucket_not_empty', /: the bucket is not empty$/],
    ['SomethingNew', 'aws_error', /: SomethingNew: /],
  ])('409 %s → exit 1 with its own message', (name, code, message) => {
    const error = describeAwsError(s3Error(name, 409, 'details here'), {action: 'Deleting the bucket', bucket: 'b-1'})
    expect(error.exit).toBe(ExitCode.failed)
    expect(error.code).toBe(code)
    expect(error.message).toMatch(message)
    expect(error.message).toMatch(/^Deleting the bucket s3:\/\/b-1: /)
  })

  it('InvalidObjectState (403) says the object is archived and names the key, not "access denied"', () => {
    const archived = Object.assign(
      s3Error('InvalidObjectState', 403, "The operation is not valid for the object's storage class"),
      {StorageClass: 'DEEP_ARCHIVE'},
    )
    const error = describeAwsError(archived, context)
    expect(error.exit).toBe(ExitCode.failed)
    expect(error.code).toBe('archived')
    expect(error.message).toBe(
      `Reading findings s3://platform-shared/${context.key}: the object is archived (DEEP_ARCHIVE); restore it first`,
    )
    expect(error.message).not.toMatch(/access denied/)
    expect(describeAwsError(s3Error('InvalidObjectState', 403), context).message).toContain('(GLACIER or DEEP_ARCHIVE)')
  })

  it('a 403 with another code is described by that code', () => {
    const error = describeAwsError(
      s3Error('SignatureDoesNotMatch', 403, 'The request signature we calculated does not match'),
      context,
    )
    expect(error.code).toBe('aws_error')
    expect(error.message).toContain('SignatureDoesNotMatch')
  })

  it('an answer the SDK could not parse is "not an S3 response"', () => {
    const parse = Object.assign(
      new SyntaxError(
        'Unexpected token \'<\', "<html>" is not valid JSON\n  Deserialization error: to see the raw response, inspect the hidden field {error}.$response on this object.',
      ),
      {
        $response: {statusCode: 200, headers: {'content-type': 'text/html'}},
        $metadata: {httpStatusCode: 200},
      },
    )
    const error = describeAwsError(parse, context)
    expect(error.code).toBe('not_s3')
    expect(error.exit).toBe(ExitCode.failed)
    expect(error.message).toBe(
      `Reading findings s3://platform-shared/${context.key}: the endpoint's answer is not an S3 response (HTTP 200)`,
    )
  })

  it('an HTML error page without an S3 error code is "not an S3 response"', () => {
    const page = Object.assign(
      new S3ServiceException({
        name: 'Unknown',
        $fault: 'server',
        $metadata: {httpStatusCode: 502},
        message: 'UnknownError',
      }),
      {
        $response: {statusCode: 502, headers: {'content-type': 'text/html; charset=utf-8'}},
      },
    )
    expect(describeAwsError(page, context).message).toMatch(/the endpoint's answer is not an S3 response \(HTTP 502\)$/)
    // S3's own XML errors are not.
    const xml = Object.assign(s3Error('InternalError', 500, 'We encountered an internal error'), {
      $response: {statusCode: 500, headers: {'content-type': 'application/xml'}},
    })
    expect(describeAwsError(xml, context).code).toBe('aws_error')
  })
})

describe('describeAwsError: a HEAD that finds nothing', () => {
  // A HEAD's 404 has no body: the SDK names it NotFound, and some servers (moto) label it text/html.
  const headNotFound = () =>
    Object.assign(
      new S3ServiceException({
        name: 'NotFound',
        $fault: 'client',
        $metadata: {httpStatusCode: 404},
        message: 'UnknownError',
      }),
      {$response: {statusCode: 404, headers: {'content-type': 'text/html; charset=utf-8', 'content-length': '0'}}},
    )

  it('HeadBucket: the bucket does not exist (exit 3), not "not an S3 response"', () => {
    const error = describeAwsError(headNotFound(), {action: 'Checking the shared bucket', bucket: 'platform-shared'})
    expect(error.code).toBe('no_such_bucket')
    expect(error.exit).toBe(ExitCode.notFound)
    expect(error.message).toBe('Checking the shared bucket s3://platform-shared: the bucket does not exist')
  })

  it('HeadObject: not found (exit 3)', () => {
    const error = describeAwsError(headNotFound(), context)
    expect(error.code).toBe('not_found')
    expect(error.exit).toBe(ExitCode.notFound)
    expect(error.message).toBe(`Reading findings s3://platform-shared/${context.key}: not found`)
  })
})

describe('describeAwsError: timeouts and the endpoint', () => {
  const timeout = (message: string) => Object.assign(new Error(message), {name: 'TimeoutError'})

  it.each([
    ['connect', 1_000, 'could not connect to http://127.0.0.1:9 within 1 s (timed out)'],
    ['idle', 2_000, 'no answer from http://127.0.0.1:9 within 2 s (timed out)'],
    ['stalled', 500, 'the answer from http://127.0.0.1:9 stalled for 0.5 s (timed out)'],
    ['deadline', 8_000, 'the answer from http://127.0.0.1:9 did not complete within 8 s (timed out)'],
  ] as const)('a %s timeout is one line naming the action, the object and the endpoint', (phase, ms, text) => {
    const error = describeAwsError(markTransportFailure(timeout('smithy says'), 'http://127.0.0.1:9', {phase, ms}), {
      action: 'Reading the engagement index',
      bucket: 'b',
      key: 'auditforge/engagements.json',
    })
    expect(error.exit).toBe(ExitCode.failed)
    expect(error.code).toBe('timeout')
    expect(error.message).toBe(`Reading the engagement index s3://b/auditforge/engagements.json: ${text}`)
  })

  it('a network failure names the endpoint it was sent to', () => {
    const refused = markTransportFailure(
      systemError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9'),
      'http://127.0.0.1:9',
    )
    expect(describeAwsError(refused, {action: 'Listing buckets'}).message).toBe(
      'Listing buckets: could not reach http://127.0.0.1:9 (connect ECONNREFUSED 127.0.0.1:9)',
    )
    const reset = markTransportFailure(systemError('ECONNRESET', 'aborted'), 'https://s3.eu-west-1.amazonaws.com')
    expect(describeAwsError(reset, {action: 'Listing buckets'}).message).toBe(
      'Listing buckets: the connection to https://s3.eu-west-1.amazonaws.com was cut (aborted)',
    )
  })

  it('the first mark wins: retries keep the endpoint and bound of the failure', () => {
    const error = markTransportFailure(timeout('x'), 'http://a:1', {phase: 'idle', ms: 1000})
    markTransportFailure(error, 'http://b:2')
    expect(transportFailure(error)).toEqual({endpoint: 'http://a:1', timeout: {phase: 'idle', ms: 1000}})
  })
})

describe('describeAwsError: credentials', () => {
  const context = {action: 'Reading the engagement index', bucket: 'b', key: 'auditforge/engagements.json'}
  const target = 'Reading the engagement index s3://b/auditforge/engagements.json'
  const files = {config: '/home/op/.aws/config', credentials: '/home/op/.aws/credentials'}
  const providerError = (message: string) => Object.assign(new Error(message), {name: 'CredentialsProviderError'})
  const noSourceLeft = () => providerError('Could not load credentials from any providers')

  it('no source left, a profile named: the profile and the reason the profile gave', () => {
    const error = describeAwsError(
      markCredentialFailure(noSourceLeft(), {
        profile: {name: 'audit', from: 'AWS_PROFILE'},
        files,
        reasons: {
          fromIni: 'Could not resolve credentials using profile: [audit] in configuration/credentials file(s).',
        },
      }),
      context,
    )
    expect(error.code).toBe('no_credentials')
    expect(error.exit).toBe(ExitCode.failed)
    expect(error.message).toBe(
      `${target}: no AWS credentials from the profile "audit" (Could not resolve credentials using profile: [audit] in configuration/credentials file(s).)`,
    )
    expect(error.suggestion).toBe(
      'The profile is named by AWS_PROFILE: check that "audit" is in /home/op/.aws/config or /home/op/.aws/credentials and has credentials (`aws configure list-profiles` lists the profiles), or name another one.',
    )
  })

  it('no source left, a container endpoint in play: the endpoint and why it gave nothing', () => {
    const error = describeAwsError(
      markCredentialFailure(noSourceLeft(), {
        files,
        container: {variable: 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', origin: 'http://169.254.170.2'},
        reasons: {remoteProvider: 'Error: connect EHOSTUNREACH 169.254.170.2:80'},
      }),
      context,
    )
    expect(error.message).toBe(
      `${target}: no AWS credentials from the container credential endpoint http://169.254.170.2 (Error: connect EHOSTUNREACH 169.254.170.2:80)`,
    )
    expect(error.suggestion).toMatch(/^AWS_CONTAINER_CREDENTIALS_RELATIVE_URI names the ECS or EKS credential endpoint/)
  })

  it('a source that failed outright keeps its message; an SSO session suggests logging in to that profile', () => {
    const expired = providerError(
      'The SSO session associated with this profile has expired. To refresh this SSO session run aws sso login with the corresponding profile.',
    )
    const error = describeAwsError(
      markCredentialFailure(expired, {profile: {name: 'audit', from: '--profile'}, files, reasons: {}}),
      context,
    )
    expect(error.message).toBe(
      `${target}: could not get AWS credentials from the profile "audit": The SSO session associated with this profile has expired. To refresh this SSO session run aws sso login with the corresponding profile.`,
    )
    expect(error.suggestion).toBe('Run `aws sso login --profile audit`, then run the command again.')
  })

  it("an AWS error inside the lookup (a role that cannot be assumed) is the lookup's, not the object's access denied", () => {
    const denied = s3Error(
      'AccessDenied',
      403,
      'User: arn:aws:iam::123456789012:user/op is not authorized to perform: sts:AssumeRole',
    )
    const error = describeAwsError(
      markCredentialFailure(denied, {profile: {name: 'audit', from: 'AWS_PROFILE'}, files, reasons: {}}),
      context,
    )
    expect(error.code).toBe('no_credentials')
    expect(error.message).toBe(
      `${target}: could not get AWS credentials from the profile "audit": AccessDenied: User: arn:aws:iam::123456789012:user/op is not authorized to perform: sts:AssumeRole`,
    )
    expect(error.suggestion).toMatch(/^Check the profile "audit" \(AWS_PROFILE\)/)
  })

  it('a call of the lookup that timed out is described as a timeout at its endpoint', () => {
    const timedOut = markTransportFailure(
      Object.assign(new Error('x'), {name: 'TimeoutError'}),
      'https://portal.sso.us-east-1.amazonaws.com',
      {
        phase: 'idle',
        ms: 30_000,
      },
    )
    const error = describeAwsError(markCredentialFailure(timedOut, {files, reasons: {}}), context)
    expect(error.code).toBe('timeout')
  })

  it('an unmarked provider error is still a credentials error', () => {
    const error = describeAwsError(noSourceLeft(), context)
    expect(error.code).toBe('no_credentials')
    expect(error.message).toBe(`${target}: no AWS credentials were found`)
  })
})

describe('attempt', () => {
  it('returns the result of a successful call', async () => {
    await expect(attempt(context, async () => 42)).resolves.toBe(42)
  })

  it('rethrows a failure described with its context', async () => {
    const failure = attempt({action: 'Writing findings', bucket: 'b-1', key: 'k'}, async () => {
      throw s3Error('AccessDenied', 403)
    })
    await expect(failure).rejects.toMatchObject({
      code: 'access_denied',
      exit: 1,
      message: 'Writing findings s3://b-1/k: access denied',
    })
  })
})
