import {describe, expect, it} from 'vitest'

import {AuditforgeError} from '../../src/lib/errors.js'
import {
  bucketNameProblem,
  exportTimestamp,
  engagementBucketName,
  engagementKeys,
  engagementListPrefixes,
  firmsKey,
  indexKey,
  isEngagementId,
  newEngagementId,
  ownsKey,
  parseEngagementBucketName,
  shardNumberOf,
  shortId,
  validateAccountId,
  validateBucketName,
  validateBucketPrefix,
  validateEngagementId,
} from '../../src/lib/layout.js'

/** Runs `call` and returns what it threw, failing the test when it did not throw. */
function thrown(call: () => unknown): AuditforgeError {
  try {
    call()
  } catch (error) {
    expect(error).toBeInstanceOf(AuditforgeError)
    return error as AuditforgeError
  }
  throw new Error('expected the call to throw')
}

describe('engagement ids', () => {
  it.each(['eng-abc', 'eng-6715f196fa40', 'eng-1', `eng-${'a'.repeat(32)}`])('accepts %s', (id) => {
    expect(validateEngagementId(id)).toBe(id)
    expect(isEngagementId(id)).toBe(true)
  })

  it.each([
    '../x',
    'Eng-ABC',
    'eng-ABC',
    'eng-',
    'eng',
    'abc',
    `eng-${'a'.repeat(33)}`,
    'eng-abc/../eng-def',
    'eng-abc.json',
    'eng-abc-methodology',
    ' eng-abc',
    'eng-abc\n',
    '',
  ])('rejects %j with exit 2', (id) => {
    const error = thrown(() => validateEngagementId(id))
    expect(error.exit).toBe(2)
    expect(error.code).toBe('invalid_input')
    expect(error.message).toContain(JSON.stringify(id))
    expect(isEngagementId(id)).toBe(false)
  })

  it('makes new ids of eng- and 12 lowercase hex digits, different each time', () => {
    const ids = Array.from({length: 50}, () => newEngagementId())
    for (const id of ids) {
      expect(id).toMatch(/^eng-[0-9a-f]{12}$/)
      expect(validateEngagementId(id)).toBe(id)
    }
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('shortId drops the eng- prefix and validates', () => {
    expect(shortId('eng-6715f196fa40')).toBe('6715f196fa40')
    expect(thrown(() => shortId('../x')).exit).toBe(2)
  })
})

describe('engagement keys', () => {
  it('builds the documented keys', () => {
    expect(indexKey).toBe('auditforge/engagements.json')
    expect(firmsKey).toBe('auditforge/firms.json')
    expect(engagementKeys.prefix('eng-abc')).toBe('auditforge/engagements/eng-abc/')
    expect(engagementKeys.findings('eng-abc')).toBe('auditforge/engagements/eng-abc/findings.json')
    expect(engagementKeys.auditLogPrefix('eng-abc')).toBe('auditforge/engagements/eng-abc/audit_log/')
    expect(engagementKeys.auditLogShard('eng-abc', 0)).toBe(
      'auditforge/engagements/eng-abc/audit_log/shard-00000.jsonl',
    )
    expect(engagementKeys.auditLogShard('eng-abc', 42)).toBe(
      'auditforge/engagements/eng-abc/audit_log/shard-00042.jsonl',
    )
    expect(engagementKeys.source('eng-abc', 'a/b.pdf')).toBe('auditforge/engagements/eng-abc/source/a/b.pdf')
    expect(engagementKeys.index('eng-abc', 'vectors.bin')).toBe('auditforge/engagements/eng-abc/index/vectors.bin')
    expect(engagementKeys.deliverable('eng-abc', 'docx')).toBe('auditforge/deliverables/eng-abc.docx')
    expect(engagementKeys.methodology('eng-abc')).toBe('auditforge/deliverables/eng-abc-methodology.md')
    expect(engagementKeys.legacyAuditLogPrefix('eng-abc')).toBe('auditforge/audit_logs/eng-abc/')
  })

  it('formats export keys as <id>-<YYYYMMDDTHHMMSS.mmmZ>-<token>.<ext>, unique per request and sorted by time', () => {
    const at = new Date(Date.UTC(2024, 2, 5, 7, 8, 9, 123))
    expect(exportTimestamp(at)).toBe('20240305T070809.123Z')
    expect(engagementKeys.export('eng-abc', at, 'jsonl', '0a1b2c')).toBe(
      'auditforge/exports/eng-abc-20240305T070809.123Z-0a1b2c.jsonl',
    )
    expect(engagementKeys.export('eng-abc', at, 'json', 'ffffff')).toBe(
      'auditforge/exports/eng-abc-20240305T070809.123Z-ffffff.json',
    )
    expect(engagementKeys.export('eng-abc', at, 'json')).toMatch(
      /^auditforge\/exports\/eng-abc-\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6}\.json$/,
    )
    // The same millisecond twice: two keys.
    const keys = new Set(Array.from({length: 50}, () => engagementKeys.export('eng-abc', at, 'jsonl')))
    expect(keys.size).toBe(50)
    const later = engagementKeys.export('eng-abc', new Date(at.getTime() + 1), 'jsonl', '000000')
    expect([later, engagementKeys.export('eng-abc', at, 'jsonl', 'ffffff')].sort()[1]).toBe(later)
    for (const key of keys) expect(ownsKey('eng-abc', key)).toBe(true)
    expect(() => engagementKeys.export('eng-abc', at, 'json', '../x')).toThrow(expect.objectContaining({exit: 2}))
  })

  it('refuses to build keys from bad ids, names, shards or extensions', () => {
    expect(thrown(() => engagementKeys.findings('../x')).exit).toBe(2)
    expect(thrown(() => engagementKeys.source('eng-abc', '../eng-abd/findings.json')).exit).toBe(2)
    expect(thrown(() => engagementKeys.source('eng-abc', '/etc/passwd')).exit).toBe(2)
    expect(thrown(() => engagementKeys.index('eng-abc', 'a//b')).exit).toBe(2)
    expect(thrown(() => engagementKeys.auditLogShard('eng-abc', -1)).exit).toBe(2)
    expect(thrown(() => engagementKeys.auditLogShard('eng-abc', 1.5)).exit).toBe(2)
    expect(thrown(() => engagementKeys.deliverable('eng-abc', '../x')).exit).toBe(2)
  })

  it('reads shard numbers only from this engagement audit_log/ shard keys', () => {
    expect(shardNumberOf('eng-abc', 'auditforge/engagements/eng-abc/audit_log/shard-00007.jsonl')).toBe(7)
    expect(shardNumberOf('eng-abc', 'auditforge/engagements/eng-abc/audit_log/shard-100000.jsonl')).toBe(100_000)
    expect(shardNumberOf('eng-abc', 'auditforge/engagements/eng-abcd/audit_log/shard-00007.jsonl')).toBeUndefined()
    expect(shardNumberOf('eng-abc', 'auditforge/engagements/eng-abc/audit_log/shard-7.jsonl')).toBeUndefined()
    expect(shardNumberOf('eng-abc', 'auditforge/engagements/eng-abc/audit_log/notes.txt')).toBeUndefined()
  })
})

describe('ownsKey: exact key ownership', () => {
  it.each([
    'auditforge/deliverables/eng-abc.json',
    'auditforge/deliverables/eng-abc.md',
    'auditforge/deliverables/eng-abc.docx',
    'auditforge/deliverables/eng-abc-methodology.md',
    'auditforge/engagements/eng-abc/findings.json',
    'auditforge/engagements/eng-abc/audit_log/shard-00000.jsonl',
    'auditforge/engagements/eng-abc/source/report.pdf',
    'auditforge/engagements/eng-abc/index/chunks/0001.bin',
    'auditforge/audit_logs/eng-abc/2023-01-01.jsonl',
    'auditforge/exports/eng-abc-20240305T070809Z.jsonl',
    'auditforge/exports/eng-abc-20240305T070809Z.json',
    'auditforge/exports/eng-abc-20240305T070809.123Z-0a1b2c.jsonl',
  ])('eng-abc owns %s', (key) => {
    expect(ownsKey('eng-abc', key)).toBe(true)
  })

  it.each([
    'auditforge/deliverables/eng-abcd.json',
    'auditforge/deliverables/eng-abcd-methodology.md',
    'auditforge/deliverables/eng-ab.json',
    'auditforge/deliverables/eng-abc',
    'auditforge/deliverables/eng-abc.',
    'auditforge/deliverables/eng-abc/x.json',
    'auditforge/deliverables/eng-abc-other.md',
    'auditforge/engagements/eng-abcd/findings.json',
    'auditforge/engagements/eng-abcd/audit_log/shard-00000.jsonl',
    'auditforge/engagements/eng-ab/findings.json',
    'auditforge/engagements/eng-abc',
    'auditforge/engagements/eng-abc/',
    'auditforge/audit_logs/eng-abcd/2023-01-01.jsonl',
    'auditforge/exports/eng-abcd-20240305T070809Z.jsonl',
    'auditforge/exports/eng-abc-20240305T070809Z.csv',
    'auditforge/exports/eng-abc-notatimestamp.json',
    'auditforge/exports/eng-abcd-20240305T070809.123Z-0a1b2c.jsonl',
    'auditforge/exports/eng-abc-20240305T070809.123Z-0A1B2C.jsonl',
    'auditforge/exports/eng-abc-20240305T070809.123Z.jsonl',
    'auditforge/engagements.json',
    'auditforge/firms.json',
    'client-1/index/eng-abc/findings.json',
    'eng-abc/index/x',
    'auditforge/engagements/eng-abc.json',
    'other/auditforge/engagements/eng-abc/findings.json',
  ])('eng-abc never owns %s', (key) => {
    expect(ownsKey('eng-abc', key)).toBe(false)
  })

  it('every listing prefix is under auditforge/ and every key built for the id is owned by it', () => {
    const prefixes = engagementListPrefixes('eng-abc')
    expect(prefixes).toContain('auditforge/engagements/eng-abc/')
    expect(prefixes).toContain('auditforge/audit_logs/eng-abc/')
    for (const prefix of prefixes) expect(prefix.startsWith('auditforge/')).toBe(true)
    const at = new Date()
    const built = [
      engagementKeys.findings('eng-abc'),
      engagementKeys.auditLogShard('eng-abc', 3),
      engagementKeys.source('eng-abc', 'x.pdf'),
      engagementKeys.index('eng-abc', 'y'),
      engagementKeys.deliverable('eng-abc', 'md'),
      engagementKeys.methodology('eng-abc'),
      engagementKeys.export('eng-abc', at, 'jsonl'),
    ]
    for (const key of built) {
      expect(ownsKey('eng-abc', key)).toBe(true)
      expect(ownsKey('eng-abcd', key)).toBe(false)
      expect(prefixes.some((prefix) => key.startsWith(prefix))).toBe(true)
    }
  })

  it('validates the id before matching', () => {
    expect(thrown(() => ownsKey('../x', 'auditforge/engagements/../x/findings.json')).exit).toBe(2)
  })
})

describe('bucket names', () => {
  it('builds <prefix><short id>-<account id>', () => {
    expect(engagementBucketName('metis-af-', 'eng-6715f196fa40', '741783034843')).toBe(
      'metis-af-6715f196fa40-741783034843',
    )
    expect(engagementBucketName('acme-', 'eng-abc', '123456789012')).toBe('acme-abc-123456789012')
  })

  it('the longest id with the longest prefix still makes a valid name', () => {
    const name = engagementBucketName('a'.repeat(17), `eng-${'b'.repeat(32)}`, '123456789012')
    expect(name.length).toBeLessThanOrEqual(63)
    expect(bucketNameProblem(name)).toBeUndefined()
  })

  it('refuses bad ids and account ids with exit 2', () => {
    expect(thrown(() => engagementBucketName('metis-af-', 'Eng-ABC', '741783034843')).exit).toBe(2)
    expect(thrown(() => engagementBucketName('metis-af-', 'eng-abc', '74178303484')).exit).toBe(2)
    expect(thrown(() => engagementBucketName('metis-af-', 'eng-abc', '7417830348431')).exit).toBe(2)
    expect(thrown(() => validateAccountId('abcdefghijkl')).exit).toBe(2)
    expect(validateAccountId('741783034843')).toBe('741783034843')
  })

  it.each([
    ['ab', /3 to 63/],
    ['a'.repeat(64), /3 to 63/],
    ['My-Bucket', /lowercase/],
    ['-bucket', /begin and end/],
    ['bucket-', /begin and end/],
    ['bucket_name', /lowercase/],
    ['a..b', /adjacent dots/],
    ['192.168.1.1', /IP address/],
    ['xn--bucket', /reserved prefix/],
    ['sthree-bucket', /reserved prefix/],
    ['bucket-s3alias', /reserved suffix/],
    ['bucket--ol-s3', /reserved suffix/],
  ])('%s breaks the naming rules', (name, problem) => {
    expect(bucketNameProblem(name)).toMatch(problem)
    expect(thrown(() => validateBucketName(name)).exit).toBe(2)
  })

  it.each(['abc', 'a'.repeat(63), 'my.bucket-1', 'metis-af-6715f196fa40-741783034843'])(
    '%s is a valid name',
    (name) => {
      expect(bucketNameProblem(name)).toBeUndefined()
      expect(validateBucketName(name)).toBe(name)
    },
  )

  it('validates bucket prefixes', () => {
    expect(validateBucketPrefix('metis-af-')).toBe('metis-af-')
    for (const bad of ['', 'Metis-', '-x', 'a'.repeat(18), 'a..b', 'a_b'])
      expect(thrown(() => validateBucketPrefix(bad)).exit).toBe(2)
  })

  it('parses per-engagement bucket names back into id and account', () => {
    expect(parseEngagementBucketName('metis-af-', 'metis-af-6715f196fa40-741783034843')).toEqual({
      engagementId: 'eng-6715f196fa40',
      accountId: '741783034843',
    })
    const built = engagementBucketName('metis-af-', 'eng-abc', '123456789012')
    expect(parseEngagementBucketName('metis-af-', built)).toEqual({engagementId: 'eng-abc', accountId: '123456789012'})
  })

  it('builds and parses the account-regional form <prefix><short id>-<account id>-<region>-an', () => {
    const name = engagementBucketName('metis-af-', 'eng-6715f196fa40', '741783034843', {
      namespace: 'account-regional',
      region: 'eu-west-1',
    })
    expect(name).toBe('metis-af-6715f196fa40-741783034843-eu-west-1-an')
    expect(parseEngagementBucketName('metis-af-', name)).toEqual({
      engagementId: 'eng-6715f196fa40',
      accountId: '741783034843',
      region: 'eu-west-1',
    })
    expect(parseEngagementBucketName('metis-af-', 'metis-af-abc-741783034843-us-gov-west-1-an')).toEqual({
      engagementId: 'eng-abc',
      accountId: '741783034843',
      region: 'us-gov-west-1',
    })
    // A new id with the longest prefix and a long region still makes a valid name.
    const long = engagementBucketName('a'.repeat(17), 'eng-6715f196fa40', '741783034843', {
      namespace: 'account-regional',
      region: 'ap-southeast-2',
    })
    expect(bucketNameProblem(long)).toBeUndefined()
  })

  it('an account-regional name needs a region, and one too long for S3 is refused (exit 2)', () => {
    expect(
      thrown(() => engagementBucketName('metis-af-', 'eng-abc', '741783034843', {namespace: 'account-regional'})).exit,
    ).toBe(2)
    expect(
      thrown(() =>
        engagementBucketName('metis-af-', 'eng-abc', '741783034843', {namespace: 'account-regional', region: 'Mars'}),
      ).exit,
    ).toBe(2)
    const tooLong = thrown(() =>
      engagementBucketName('a'.repeat(17), `eng-${'b'.repeat(32)}`, '123456789012', {
        namespace: 'account-regional',
        region: 'eu-west-1',
      }),
    )
    expect(tooLong.exit).toBe(2)
    expect(tooLong.message).toMatch(/3 to 63/)
  })

  it.each([
    'metis-af-6715f196fa40-741783034843-eu-west-1',
    'metis-af-6715f196fa40-741783034843-eu-west-1-ax',
    'metis-af-6715f196fa40-741783034843-euwest-an',
    'metis-af-6715f196fa40-74178303484-eu-west-1-an',
    'platform-shared',
    'other-6715f196fa40-741783034843',
    'metis-af-6715f196fa40',
    'metis-af-6715f196fa40-74178303484',
    'metis-af-6715f196fa40-7417830348431',
    'metis-af-6715-f196fa40-741783034843',
    'metis-af--741783034843',
    `metis-af-${'a'.repeat(33)}-741783034843`,
    'metis-af-6715F196FA40-741783034843',
  ])('%s is not a per-engagement bucket name', (name) => {
    expect(parseEngagementBucketName('metis-af-', name)).toBeUndefined()
  })
})
