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
} from '../../src/lib/errors.js'
import {s3Error, systemError} from './fixtures.js'

const context = {action: 'Reading findings', bucket: 'platform-shared', key: 'auditforge/engagements/eng-abc/findings.json'}

describe('describeAwsError', () => {
  it('AccessDenied → exit 1, access_denied, naming action, bucket and key', () => {
    const error = describeAwsError(s3Error('AccessDenied', 403, 'Access Denied'), context)
    expect(error).toBeInstanceOf(AuditforgeError)
    expect(error.exit).toBe(1)
    expect(error.code).toBe('access_denied')
    expect(error.message).toBe('Reading findings s3://platform-shared/auditforge/engagements/eng-abc/findings.json: access denied')
    expect(error.suggestion).toBeTruthy()
    expect(error.message).not.toContain('\n')
  })

  it('a bare 403 without a code is access denied too', () => {
    expect(describeAwsError(s3Error('Forbidden', 403), context).code).toBe('access_denied')
  })

  it('NoSuchBucket → exit 3', () => {
    const error = describeAwsError(new NoSuchBucket({$metadata: {httpStatusCode: 404}, message: 'The specified bucket does not exist'}), {
      action: 'Listing objects',
      bucket: 'gone-bucket',
    })
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
    for (const error of [s3Error('PreconditionFailed', 412), s3Error('Unknown', 412), s3Error('ConditionalRequestConflict', 409)]) {
      const described = describeAwsError(error, context)
      expect(described.exit).toBe(6)
      expect(described.code).toBe('conflict')
      expect(described.message).toContain('s3://platform-shared/')
    }
  })

  it('SlowDown → exit 1 throttled', () => {
    const error = describeAwsError(s3Error('SlowDown', 503, 'Please reduce your request rate.'), {action: 'Deleting objects', bucket: 'b-1'})
    expect(error.exit).toBe(1)
    expect(error.code).toBe('throttled')
    expect(error.message).toContain('Deleting objects s3://b-1')
    expect(error.message).toContain('SlowDown')
  })

  it('ECONNREFUSED → network, exit 1', () => {
    const error = describeAwsError(systemError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'), context)
    expect(error.code).toBe('network')
    expect(error.exit).toBe(1)
    expect(error.message).toContain('Reading findings s3://platform-shared/auditforge/engagements/eng-abc/findings.json')
    expect(error.message).toContain('ECONNREFUSED')
  })

  it.each(['ECONNRESET', 'EPIPE', 'EAI_AGAIN'])('a Node system error %s (name "Error") is a network error', (code) => {
    const error = describeAwsError(systemError(code, `read ${code.toLowerCase()}`), context)
    expect(error.code).toBe('network')
    expect(error.exit).toBe(1)
  })

  it('an AggregateError with an empty message (Node 20 happy eyeballs) and code ECONNREFUSED is a network error', () => {
    const error = Object.assign(new AggregateError([systemError('ECONNREFUSED', 'connect ECONNREFUSED ::1:1')], ''), {code: 'ECONNREFUSED'})
    const described = describeAwsError(error, context)
    expect(described.code).toBe('network')
    expect(described.message).toContain('(ECONNREFUSED)')
  })

  it('anything else is exit 1 with the code and the first line of the message', () => {
    const error = describeAwsError(s3Error('InternalError', 500, 'We encountered an internal error.\nPlease try again.'), context)
    expect(error.exit).toBe(1)
    expect(error.code).toBe('aws_error')
    expect(error.message).toBe(
      'Reading findings s3://platform-shared/auditforge/engagements/eng-abc/findings.json: InternalError: We encountered an internal error.',
    )
  })

  it('names only the action when there is no bucket, and only the bucket when there is no key', () => {
    expect(describeAwsError(s3Error('AccessDenied', 403), {action: 'Looking up the caller'}).message).toBe('Looking up the caller: access denied')
    expect(describeAwsError(s3Error('AccessDenied', 403), {action: 'Tagging', bucket: 'b-1'}).message).toBe('Tagging s3://b-1: access denied')
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
    expect(isAccessDenied(new S3ServiceException({name: 'Whatever', $fault: 'client', $metadata: {httpStatusCode: 403}}))).toBe(true)
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
    await expect(failure).rejects.toMatchObject({code: 'access_denied', exit: 1, message: 'Writing findings s3://b-1/k: access denied'})
  })
})
