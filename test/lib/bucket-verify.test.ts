/**
 * `bucket verify`'s one exit code over many buckets: which failure outranks which, and a message
 * that counts every kind found (buckets that could not be checked by name).
 */
import {describe, expect, it} from 'vitest'

import {type BucketVerification, verificationFailure} from '../../src/lib/buckets.js'
import {AuditforgeError, ExitCode, notFound, refused} from '../../src/lib/errors.js'

const passed = (bucket: string): BucketVerification => ({bucket, engagementId: 'eng-a', ok: true, controls: []})
const drifted = (bucket: string): BucketVerification => ({bucket, engagementId: 'eng-a', ok: false, controls: []})
const untouched = (bucket: string): BucketVerification => ({...drifted(bucket), fix_refused: 'bound to another index'})
const gone = (bucket: string): BucketVerification => ({
  bucket,
  engagementId: 'eng-a',
  error: notFound(`The bucket ${bucket} does not exist`),
})
const denied = (bucket: string): BucketVerification => ({
  bucket,
  engagementId: 'eng-a',
  error: new AuditforgeError('access denied', {code: 'access_denied', exit: ExitCode.failed, suggestion: 'Check IAM.'}),
})
const notOurs = (bucket: string): BucketVerification => ({
  bucket,
  engagementId: null,
  error: refused(`${bucket} is not a per-engagement bucket name`, 'Check the name.'),
})

describe('verificationFailure', () => {
  it('is undefined when every bucket was checked and passed (and when there were none)', () => {
    expect(verificationFailure([passed('a'), passed('b')])).toBeUndefined()
    expect(verificationFailure([])).toBeUndefined()
  })

  it('a missing bucket alone is exit 3, naming it', () => {
    expect(verificationFailure([passed('a'), gone('b')])).toMatchObject({
      code: 'not_found',
      exit: 3,
      message: '1 of 2 buckets does not exist (b)',
    })
  })

  it('ranks refused (5) over drift (4) over a bucket that could not be read (1) over a missing one (3)', () => {
    expect(verificationFailure([gone('a'), denied('b')])).toMatchObject({
      code: 'check_failed',
      exit: 1,
      message: '1 of 2 buckets could not be checked (b); 1 does not exist (a)',
      suggestion: 'Check IAM.',
    })
    expect(verificationFailure([gone('a'), denied('b'), drifted('c')])).toMatchObject({
      code: 'drift',
      exit: 4,
      message: '1 of 3 buckets has drifted controls; 1 could not be checked (b); 1 does not exist (a)',
    })
    expect(verificationFailure([gone('a'), drifted('c'), notOurs('d')])).toMatchObject({
      code: 'refused',
      exit: 5,
      message: '1 of 3 buckets was refused (d); 1 has drifted controls; 1 does not exist (a)',
      suggestion: 'Check the name.',
    })
    expect(verificationFailure([drifted('c'), untouched('e')], {fix: true})).toMatchObject({
      code: 'refused',
      exit: 5,
      message:
        '1 of 2 buckets belongs to another engagement index or to none; --fix wrote nothing to it; 1 has drifted controls',
    })
  })

  it('drift suggests --fix unless --fix ran', () => {
    expect(verificationFailure([drifted('a')])?.suggestion).toBe('Run again with --fix to re-apply them.')
    expect(verificationFailure([drifted('a')], {fix: true})?.suggestion).toBeUndefined()
  })
})
