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
      namespace: 'global',
      region: undefined,
      profile: undefined,
      endpoints: {s3: undefined, sts: undefined, s3Control: undefined, serviceQuotas: undefined},
      accountId: undefined,
      timeBounds: {connect: 5_000, idle: 30_000, attempt: 120_000, longAttempt: 900_000},
      maxAttempts: 5,
      checksums: {},
      controls: {kmsKeyId: undefined, archiveFindingsAfterDays: 90, noncurrentDays: undefined, allowedPrincipals: []},
    })
  })

  it('shared bucket: flag beats AUDITFORGE_BUCKET', () => {
    expect(resolveSettings({}, {AUDITFORGE_BUCKET: 'env-bucket'}).sharedBucket).toBe('env-bucket')
    expect(resolveSettings({'shared-bucket': 'flag-bucket'}, {AUDITFORGE_BUCKET: 'env-bucket'}).sharedBucket).toBe(
      'flag-bucket',
    )
    expect(resolveSettings({'shared-bucket': ''}, {AUDITFORGE_BUCKET: 'env-bucket'}).sharedBucket).toBe('env-bucket')
  })

  it('region: flag beats AWS_REGION beats AWS_DEFAULT_REGION', () => {
    expect(resolveSettings({}, {AWS_DEFAULT_REGION: 'eu-west-1'}).region).toBe('eu-west-1')
    expect(resolveSettings({}, {AWS_DEFAULT_REGION: 'eu-west-1', AWS_REGION: 'eu-central-1'}).region).toBe(
      'eu-central-1',
    )
    expect(
      resolveSettings({region: 'ap-southeast-2'}, {AWS_DEFAULT_REGION: 'eu-west-1', AWS_REGION: 'eu-central-1'}).region,
    ).toBe('ap-southeast-2')
    expect(resolveSettings({}, {AWS_REGION: 'us-gov-west-1'}).region).toBe('us-gov-west-1')
  })

  it('S3 endpoint: flag beats AWS_ENDPOINT_URL_S3 beats AWS_ENDPOINT_URL', () => {
    expect(resolveSettings({}, {AWS_ENDPOINT_URL: 'http://127.0.0.1:5000'}).endpoints.s3).toBe('http://127.0.0.1:5000')
    expect(
      resolveSettings({}, {AWS_ENDPOINT_URL: 'http://127.0.0.1:5000', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:6000'})
        .endpoints.s3,
    ).toBe('http://127.0.0.1:6000')
    expect(
      resolveSettings(
        {'endpoint-url': 'https://s3.example.test'},
        {AWS_ENDPOINT_URL: 'http://127.0.0.1:5000', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:6000'},
      ).endpoints.s3,
    ).toBe('https://s3.example.test')
  })

  it('each service has its own endpoint; --endpoint-url and AWS_ENDPOINT_URL_S3 are S3 only', () => {
    const env = {AWS_ENDPOINT_URL: 'http://127.0.0.1:5000'}
    expect(resolveSettings({'endpoint-url': 'http://127.0.0.1:7000'}, env).endpoints).toEqual({
      s3: 'http://127.0.0.1:7000',
      sts: 'http://127.0.0.1:5000',
      s3Control: 'http://127.0.0.1:5000',
      serviceQuotas: 'http://127.0.0.1:5000',
      cloudtrail: 'http://127.0.0.1:5000',
      iam: 'http://127.0.0.1:5000',
    })
    expect(resolveSettings({'endpoint-url': 'http://127.0.0.1:7000'}, {}).endpoints).toEqual({
      s3: 'http://127.0.0.1:7000',
    })
    expect(resolveSettings({}, {AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:6000'}).endpoints).toEqual({
      s3: 'http://127.0.0.1:6000',
    })
    expect(
      resolveSettings(
        {},
        {
          ...env,
          AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:6001',
          AWS_ENDPOINT_URL_S3_CONTROL: 'http://127.0.0.1:6002',
          AWS_ENDPOINT_URL_SERVICE_QUOTAS: 'http://127.0.0.1:6003',
          AWS_ENDPOINT_URL_CLOUDTRAIL: 'http://127.0.0.1:6004',
          AWS_ENDPOINT_URL_IAM: 'http://127.0.0.1:6005',
        },
      ).endpoints,
    ).toEqual({
      s3: 'http://127.0.0.1:5000',
      sts: 'http://127.0.0.1:6001',
      s3Control: 'http://127.0.0.1:6002',
      serviceQuotas: 'http://127.0.0.1:6003',
      cloudtrail: 'http://127.0.0.1:6004',
      iam: 'http://127.0.0.1:6005',
    })
  })

  it.each([
    'AWS_ENDPOINT_URL',
    'AWS_ENDPOINT_URL_S3',
    'AWS_ENDPOINT_URL_STS',
    'AWS_ENDPOINT_URL_S3_CONTROL',
    'AWS_ENDPOINT_URL_CLOUDTRAIL',
  ])('rejects a malformed %s (exit 2)', (name) => {
    const error = thrown(() => resolveSettings({}, {[name]: 'ftp://example.test'}))
    expect(error.exit).toBe(2)
    expect(error.message).toContain(name)
  })

  it('timeouts: AUDITFORGE_CONNECT_TIMEOUT and AUDITFORGE_READ_TIMEOUT in seconds; the deadlines follow the read timeout', () => {
    expect(resolveSettings({}, {AUDITFORGE_CONNECT_TIMEOUT: '2', AUDITFORGE_READ_TIMEOUT: '0.5'}).timeBounds).toEqual({
      connect: 2_000,
      idle: 500,
      attempt: 2_000,
      longAttempt: 15_000,
    })
  })

  it.each(['0', '-1', 'abc', '1e3', '3601', '2s', '.5'])(
    'rejects AUDITFORGE_READ_TIMEOUT=%j (exit 2, one line)',
    (value) => {
      const error = thrown(() => resolveSettings({}, {AUDITFORGE_READ_TIMEOUT: value}))
      expect(error.exit).toBe(2)
      expect(error.message).toMatch(/^Invalid AUDITFORGE_READ_TIMEOUT .*seconds/)
      expect(error.message).not.toContain('\n')
      expect(thrown(() => resolveSettings({}, {AUDITFORGE_CONNECT_TIMEOUT: value})).exit).toBe(2)
    },
  )

  it('attempts: AWS_MAX_ATTEMPTS, default 5, validated', () => {
    expect(resolveSettings({}, {AWS_MAX_ATTEMPTS: '2'}).maxAttempts).toBe(2)
    expect(thrown(() => resolveSettings({}, {AWS_MAX_ATTEMPTS: '0'})).exit).toBe(2)
    expect(thrown(() => resolveSettings({}, {AWS_MAX_ATTEMPTS: 'many'})).exit).toBe(2)
  })

  it('checksums: WHEN_REQUIRED on a custom S3 endpoint unless the SDK variables are set; SDK defaults on AWS', () => {
    const custom = {AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:6000'}
    expect(resolveSettings({}, custom).checksums).toEqual({
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    })
    expect(resolveSettings({}, {...custom, AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_SUPPORTED'}).checksums).toEqual({
      responseChecksumValidation: 'WHEN_REQUIRED',
    })
    expect(resolveSettings({}, {...custom, AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_SUPPORTED'}).checksums).toEqual({
      requestChecksumCalculation: 'WHEN_REQUIRED',
    })
    expect(resolveSettings({}, {AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:6001'}).checksums).toEqual({})
    expect(resolveSettings({}, {}).checksums).toEqual({})
  })

  it('account id: flag beats AUDITFORGE_ACCOUNT_ID', () => {
    expect(resolveSettings({}, {AUDITFORGE_ACCOUNT_ID: '111111111111'}).accountId).toBe('111111111111')
    expect(resolveSettings({'account-id': '222222222222'}, {AUDITFORGE_ACCOUNT_ID: '111111111111'}).accountId).toBe(
      '222222222222',
    )
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
  it.each(['1', 'true', 'TRUE', 'True', 'yes', 'YES', 'Yes', ' yes '])(
    'AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET=%j turns it on',
    (value) => {
      expect(isEnabled(value)).toBe(true)
      expect(resolveSettings({}, {AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET: value}).isolated).toBe(true)
    },
  )

  it.each(['0', 'false', 'no', 'on', 'enabled', 'y', '2', '', 'truee', '1 1'])(
    'AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET=%j leaves it off',
    (value) => {
      expect(isEnabled(value)).toBe(false)
      expect(resolveSettings({}, {AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET: value}).isolated).toBe(false)
    },
  )

  it('is off when unset', () => {
    expect(isEnabled(undefined)).toBe(false)
    expect(resolveSettings({}, {}).isolated).toBe(false)
  })

  it('--no-isolated beats the environment, and --isolated beats its absence', () => {
    expect(resolveSettings({isolated: false}, {AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET: 'true'}).isolated).toBe(
      false,
    )
    expect(resolveSettings({isolated: true}, {AUDITFORGE_PROVISION_PER_ENGAGEMENT_BUCKET: 'no'}).isolated).toBe(true)
    expect(resolveSettings({isolated: true}, {}).isolated).toBe(true)
  })
})

describe('bucket control settings: flag > environment > default', () => {
  const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'

  it('KMS key: flag beats AUDITFORGE_KMS_KEY_ID; ids, ARNs and aliases are accepted', () => {
    expect(resolveSettings({}, {AUDITFORGE_KMS_KEY_ID: keyArn}).controls.kmsKeyId).toBe(keyArn)
    expect(resolveSettings({'kms-key-id': 'alias/audit'}, {AUDITFORGE_KMS_KEY_ID: keyArn}).controls.kmsKeyId).toBe(
      'alias/audit',
    )
    for (const key of [
      '1234abcd-12ab-34cd-56ef-1234567890ab',
      'mrk-1234567890abcdef1234567890abcdef',
      'arn:aws:kms:eu-west-1:123456789012:alias/audit',
    ]) {
      expect(resolveSettings({'kms-key-id': key}, {}).controls.kmsKeyId).toBe(key)
    }
  })

  it('lifecycle days: flag beats environment beats the defaults (90, never)', () => {
    expect(resolveSettings({}, {}).controls).toMatchObject({archiveFindingsAfterDays: 90, noncurrentDays: undefined})
    const env = {AUDITFORGE_ARCHIVE_FINDINGS_AFTER_DAYS: '0', AUDITFORGE_NONCURRENT_DAYS: '365'}
    expect(resolveSettings({}, env).controls).toMatchObject({archiveFindingsAfterDays: 0, noncurrentDays: 365})
    expect(resolveSettings({'archive-findings-after-days': 30, 'noncurrent-days': 7}, env).controls).toMatchObject({
      archiveFindingsAfterDays: 30,
      noncurrentDays: 7,
    })
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
    [{'kms-key-id': 'not a key'}, {}, /KMS key/],
    [{}, {AUDITFORGE_KMS_KEY_ID: 'arn:aws:s3:::bucket'}, /KMS key/],
    [{}, {AUDITFORGE_ARCHIVE_FINDINGS_AFTER_DAYS: '-1'}, /AUDITFORGE_ARCHIVE_FINDINGS_AFTER_DAYS/],
    [{}, {AUDITFORGE_ARCHIVE_FINDINGS_AFTER_DAYS: '9.5'}, /AUDITFORGE_ARCHIVE_FINDINGS_AFTER_DAYS/],
    [{}, {AUDITFORGE_NONCURRENT_DAYS: '0'}, /AUDITFORGE_NONCURRENT_DAYS/],
    [{'noncurrent-days': 40_000}, {}, /--noncurrent-days/],
    [{'access-log-bucket': 'Logs_Bucket'}, {}, /access log bucket/],
    [{}, {AUDITFORGE_CLOUDTRAIL_TRAIL: 'a b'}, /AUDITFORGE_CLOUDTRAIL_TRAIL/],
    [{'cloudtrail-trail': 'x'}, {}, /--cloudtrail-trail/],
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

describe('bucket namespace', () => {
  it('flag beats AUDITFORGE_BUCKET_NAMESPACE beats global; anything else is exit 2', () => {
    expect(resolveSettings({}, {}).namespace).toBe('global')
    expect(resolveSettings({}, {AUDITFORGE_BUCKET_NAMESPACE: 'account-regional'}).namespace).toBe('account-regional')
    expect(resolveSettings({namespace: 'global'}, {AUDITFORGE_BUCKET_NAMESPACE: 'account-regional'}).namespace).toBe(
      'global',
    )
    const error = thrown(() => resolveSettings({}, {AUDITFORGE_BUCKET_NAMESPACE: 'regional'}))
    expect(error.exit).toBe(2)
    expect(error.message).toContain('AUDITFORGE_BUCKET_NAMESPACE')
  })
})

describe('allowed principals', () => {
  it('flag beats AUDITFORGE_ALLOWED_PRINCIPALS (comma- or space-separated); duplicates dropped; a non-ARN is exit 2', () => {
    const a = 'arn:aws:iam::123456789012:role/a'
    const b = 'arn:aws:iam::123456789012:user/b'
    expect(resolveSettings({}, {AUDITFORGE_ALLOWED_PRINCIPALS: `${a}, ${b} ${a}`}).controls.allowedPrincipals).toEqual([
      a,
      b,
    ])
    expect(
      resolveSettings({'allow-principal': [b]}, {AUDITFORGE_ALLOWED_PRINCIPALS: a}).controls.allowedPrincipals,
    ).toEqual([b])
    const error = thrown(() => resolveSettings({'allow-principal': ['platform-task']}, {}))
    expect(error.exit).toBe(2)
    expect(error.message).toContain('--allow-principal')
  })
})
