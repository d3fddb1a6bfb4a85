import {describe, expect, it} from 'vitest'

import {BoundedHttpHandler, createClientConfig, createS3Client, metadataRetries} from '../../src/lib/aws.js'
import {resolveSettings} from '../../src/lib/config.js'

describe('client configuration', () => {
  it('each client gets its own service endpoint: --endpoint-url never reaches STS or Service Quotas', () => {
    const settings = resolveSettings(
      {'endpoint-url': 'http://127.0.0.1:7000'},
      {AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:7001'},
    )
    expect(createClientConfig(settings, 's3').endpoint).toBe('http://127.0.0.1:7000')
    expect(createClientConfig(settings, 'sts').endpoint).toBe('http://127.0.0.1:7001')
    expect(createClientConfig(settings, 'serviceQuotas').endpoint).toBeUndefined()
    // A custom endpoint without a region gets one S3-compatible servers accept; AWS keeps the SDK's chain.
    expect(createClientConfig(settings, 'sts').region).toBe('us-east-1')
    expect(createClientConfig(settings, 'serviceQuotas').region).toBeUndefined()
  })

  it('timeouts that throw, from the settings', () => {
    const settings = resolveSettings(
      {},
      {AUDITFORGE_CONNECT_TIMEOUT: '2', AUDITFORGE_READ_TIMEOUT: '3', AWS_MAX_ATTEMPTS: '4'},
    )
    const config = createClientConfig(settings)
    expect(config.maxAttempts).toBe(4)
    expect(config.requestHandler).toBeInstanceOf(BoundedHttpHandler)
  })

  it('checksums WHEN_REQUIRED on a custom S3 endpoint, unless the SDK variables say otherwise', async () => {
    const custom = createS3Client(resolveSettings({'endpoint-url': 'http://127.0.0.1:7000'}, {}))
    expect(await custom.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED')
    expect(await custom.config.responseChecksumValidation()).toBe('WHEN_REQUIRED')
    expect(custom.config.forcePathStyle).toBe(true)
    custom.destroy()

    const before = {...process.env}
    process.env.AWS_REQUEST_CHECKSUM_CALCULATION = 'WHEN_SUPPORTED'
    try {
      const chosen = createS3Client(resolveSettings({'endpoint-url': 'http://127.0.0.1:7000'}, process.env))
      expect(await chosen.config.requestChecksumCalculation()).toBe('WHEN_SUPPORTED')
      expect(await chosen.config.responseChecksumValidation()).toBe('WHEN_REQUIRED')
      chosen.destroy()
    } finally {
      process.env = before
    }
  })

  it('the SDK defaults stand on AWS itself', async () => {
    const aws = createS3Client(resolveSettings({region: 'eu-west-1'}, {}))
    expect(await aws.config.requestChecksumCalculation()).toBe('WHEN_SUPPORTED')
    expect(await aws.config.responseChecksumValidation()).toBe('WHEN_SUPPORTED')
    expect(aws.config.forcePathStyle).toBe(false)
    aws.destroy()
  })
})

describe('credential lookup', () => {
  it('the metadata endpoints are retried at most once, and not at all with AWS_MAX_ATTEMPTS=1', () => {
    expect(metadataRetries(resolveSettings({}, {}))).toBe(1)
    expect(metadataRetries(resolveSettings({}, {AWS_MAX_ATTEMPTS: '20'}))).toBe(1)
    expect(metadataRetries(resolveSettings({}, {AWS_MAX_ATTEMPTS: '1'}))).toBe(0)
  })
})
