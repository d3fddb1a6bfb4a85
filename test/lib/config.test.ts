import {describe, expect, it} from 'vitest'

import {isEnabled, requireSharedBucket, resolveSettings} from '../../src/lib/config.js'
import {AuditforgeError} from '../../src/lib/errors.js'

function thrown(call: () => unknown): AuditforgeError {
  try {
    call()
  } catch (error) {
    expect(error).toBeInstanceOf(AuditforgeError)
    return error as AuditforgeError
  }
  throw new Error('expected the call to throw')
}

describe('resolveSettings: flag > environment > default', () => {
  it('uses the documented defaults when nothing is set', () => {
    const settings = resolveSettings({}, {})
    expect(settings).toEqual({
      sharedBucket: undefined,
      isolated: false,
      bucketPrefix: 'metis-af-',
      region: undefined,
      profile: undefined,
      endpoint: undefined,
      accountId: undefined,
    })
  })

  it('shared bucket: flag beats AUDITFORGE_BUCKET', () => {
    expect(resolveSettings({}, {AUDITFORGE_BUCKET: 'env-bucket'}).sharedBucket).toBe('env-bucket')
    expect(resolveSettings({'shared-bucket': 'flag-bucket'}, {AUDITFORGE_BUCKET: 'env-bucket'}).sharedBucket).toBe('flag-bucket')
    expect(resolveSettings({'shared-bucket': ''}, {AUDITFORGE_BUCKET: 'env-bucket'}).sharedBucket).toBe('env-bucket')
  })

  it('region: flag beats AWS_REGION beats AWS_DEFAULT_REGION', () => {
    expect(resolveSettings({}, {AWS_DEFAULT_REGION: 'eu-west-1'}).region).toBe('eu-west-1')
    expect(resolveSettings({}, {AWS_DEFAULT_REGION: 'eu-west-1', AWS_REGION: 'eu-central-1'}).region).toBe('eu-central-1')
    expect(resolveSettings({region: 'ap-southeast-2'}, {AWS_DEFAULT_REGION: 'eu-west-1', AWS_REGION: 'eu-central-1'}).region).toBe(
      'ap-southeast-2',
    )
    expect(resolveSettings({}, {AWS_REGION: 'us-gov-west-1'}).region).toBe('us-gov-west-1')
  })

  it('endpoint: flag beats AWS_ENDPOINT_URL_S3 beats AWS_ENDPOINT_URL', () => {
    expect(resolveSettings({}, {AWS_ENDPOINT_URL: 'http://127.0.0.1:5000'}).endpoint).toBe('http://127.0.0.1:5000')
    expect(
      resolveSettings({}, {AWS_ENDPOINT_URL: 'http://127.0.0.1:5000', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:6000'}).endpoint,
    ).toBe('http://127.0.0.1:6000')
    expect(
      resolveSettings(
        {'endpoint-url': 'https://s3.example.test'},
        {AWS_ENDPOINT_URL: 'http://127.0.0.1:5000', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:6000'},
      ).endpoint,
    ).toBe('https://s3.example.test')
  })

  it('account id: flag beats AUDITFORGE_ACCOUNT_ID', () => {
    expect(resolveSettings({}, {AUDITFORGE_ACCOUNT_ID: '111111111111'}).accountId).toBe('111111111111')
    expect(resolveSettings({'account-id': '222222222222'}, {AUDITFORGE_ACCOUNT_ID: '111111111111'}).accountId).toBe('222222222222')
  })

  it('profile comes from the flag only (the SDK reads AWS_PROFILE itself)', () => {
    expect(resolveSettings({profile: 'ops'}, {AWS_PROFILE: 'other'}).profile).toBe('ops')
  })

  it('bucket prefix comes from AUDITFORGE_BUCKET_PREFIX, default metis-af-', () => {
    expect(resolveSettings({}, {AUDITFORGE_BUCKET_PREFIX: 'acme-af-'}).bucketPrefix).toBe('acme-af-')
    expect(resolveSettings({}, {}).bucketPrefix).toBe('metis-af-')
  })
})

describe('per-engagement isolation flag', () => {
  it.each(['1', 'true', 'TRUE', 'True', 'yes', 'YES', 'Yes', ' yes '])('AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET=%j turns it on', (value) => {
    expect(isEnabled(value)).toBe(true)
    expect(resolveSettings({}, {AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET: value}).isolated).toBe(true)
  })

  it.each(['0', 'false', 'no', 'on', 'enabled', 'y', '2', '', 'truee', '1 1'])('AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET=%j leaves it off', (value) => {
    expect(isEnabled(value)).toBe(false)
    expect(resolveSettings({}, {AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET: value}).isolated).toBe(false)
  })

  it('is off when unset', () => {
    expect(isEnabled(undefined)).toBe(false)
    expect(resolveSettings({}, {}).isolated).toBe(false)
  })

  it('--no-isolated beats the environment, and --isolated beats its absence', () => {
    expect(resolveSettings({isolated: false}, {AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET: 'true'}).isolated).toBe(false)
    expect(resolveSettings({isolated: true}, {AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET: 'no'}).isolated).toBe(true)
    expect(resolveSettings({isolated: true}, {}).isolated).toBe(true)
  })
})

describe('invalid configuration is a usage error (exit 2)', () => {
  it.each([
    [{'endpoint-url': 'not a url'}, {}, /endpoint/i],
    [{'endpoint-url': 'ftp://127.0.0.1:5000'}, {}, /endpoint/i],
    [{}, {AWS_ENDPOINT_URL: '127.0.0.1:5000'}, /endpoint/i],
    [{region: 'US-EAST-1'}, {}, /region/i],
    [{region: 'mars'}, {}, /region/i],
    [{}, {AWS_REGION: 'us east 1'}, /region/i],
    [{'account-id': '12345'}, {}, /account id/i],
    [{}, {AUDITFORGE_ACCOUNT_ID: 'abcdefghijkl'}, /account id/i],
    [{'shared-bucket': 'Bad_Bucket'}, {}, /shared bucket/i],
    [{}, {AUDITFORGE_BUCKET: 'x'}, /shared bucket/i],
    [{}, {AUDITFORGE_BUCKET_PREFIX: 'UPPER-'}, /AUDITFORGE_BUCKET_PREFIX/],
  ] as const)('%j with env %j', (flags, env, message) => {
    const error = thrown(() => resolveSettings(flags, env))
    expect(error.exit).toBe(2)
    expect(error.code).toBe('invalid_input')
    expect(error.message).toMatch(message)
  })

  it('a missing shared bucket is a clear usage error naming the flag and variable', () => {
    const error = thrown(() => requireSharedBucket(resolveSettings({}, {})))
    expect(error.exit).toBe(2)
    expect(error.suggestion).toContain('--shared-bucket')
    expect(error.suggestion).toContain('AUDITFORGE_BUCKET')
    expect(requireSharedBucket(resolveSettings({}, {AUDITFORGE_BUCKET: 'platform-shared'}))).toBe('platform-shared')
  })
})
