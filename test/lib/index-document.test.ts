import {parse} from 'lossless-json'
import {describe, expect, it} from 'vitest'

import {
  type EngagementRecord,
  cloneRecords,
  parseIndex,
  serializeIndex,
  stringifyJson,
} from '../../src/lib/index-document.js'
import {AuditforgeError} from '../../src/lib/errors.js'
import {renderEngagement} from '../../src/ui/records.js'
import {sharedBucket} from './fixtures.js'

/**
 * The index text as the platform might write it, two-space indented like our own output. A
 * string "#<text>" stands for the raw JSON <text>, so numbers JavaScript cannot hold (a 20-digit
 * integer, 1.0, -0) can be written into the document.
 */
function platformText(document: unknown): string {
  return `${JSON.stringify(document, null, 2).replaceAll(/"#([^"]*)"/g, '$1')}\n`
}

/** Fields auditforge does not know, with every value a round through a double would change. */
const tricky = {
  seq: '#12345678901234567891',
  negative_big: '#-98765432109876543210987',
  ratio: '#1.0',
  exponent: '#1e5',
  upper_exponent: '#2.50E-10',
  negative_zero: '#-0',
  precise: '#0.1000000000000000055511151231257827',
  plain: 42,
  nested: {levels: [{ratio: '#2.0', deeper: {ids: ['#9007199254740993', '#1.10']}}], empty_array: [], empty_object: {}},
  unicode: 'café, 𝄞, 😀, ümlaut, \u2028',
  empty_object: {},
  empty_array: [],
  nothing: null,
  flag: false,
}

function record(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    engagement_id: id,
    name: `Engagement ${id}`,
    client_id: 'client-1',
    created_at: '2024-03-05T07:08:09Z',
    source_bucket: '',
    findings_key: `auditforge/engagements/${id}/findings.json`,
    audit_log_key: `auditforge/engagements/${id}/audit_log/`,
    ...extra,
  }
}

/** The same record as a map entry that does not repeat its key. */
function entry(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const {engagement_id: _id, ...rest} = record(id, extra)
  return rest
}

const shapes: [string, unknown][] = [
  ['a top-level array', [record('eng-aaa', tricky), record('eng-bbb')]],
  [
    'a wrapped list with other top-level fields',
    {
      version: '#3',
      generated_at: '#1700000000.0',
      meta: tricky,
      engagements: [record('eng-aaa', tricky)],
      trailer: 'x',
    },
  ],
  [
    'a wrapped map whose entries repeat their id',
    {schema: 'v2', engagements: {'eng-aaa': record('eng-aaa', tricky), 'eng-bbb': record('eng-bbb')}},
  ],
  ['a wrapped map whose entries do not', {engagements: {'eng-aaa': entry('eng-aaa', tricky)}, count: '#1.0'}],
  ['a top-level map whose entries repeat their id', {'eng-aaa': record('eng-aaa', tricky)}],
  ['a top-level map whose entries do not', {'eng-aaa': entry('eng-aaa', tricky), 'eng-bbb': entry('eng-bbb')}],
  ['a map mixing both', {'eng-aaa': entry('eng-aaa', tricky), 'eng-bbb': record('eng-bbb')}],
  [
    'a record with engagement_id not first',
    {engagements: {'eng-aaa': {name: 'A', engagement_id: 'eng-aaa', seq: '#12345678901234567891'}}},
  ],
]

/** Parses with lossless-json, so two documents compare number by number as written. */
const exactly = (text: string) => parse(text)

function corruptMessage(text: string): string {
  try {
    parseIndex(text, sharedBucket)
  } catch (error) {
    expect(error).toBeInstanceOf(AuditforgeError)
    expect(error).toMatchObject({
      code: 'index_corrupt',
      exit: 1,
      suggestion: expect.stringContaining('Restore a good version'),
    })
    return (error as Error).message
  }
  throw new Error(`parsed as valid: ${text}`)
}

describe('index document: lossless round trip', () => {
  it.each(shapes)('%s is written back byte for byte', (_what, document) => {
    const text = platformText(document)
    const {records, shape} = parseIndex(text, sharedBucket)
    expect(serializeIndex(records, shape)).toBe(text)
    // The same after the copy every change works on.
    expect(serializeIndex(cloneRecords(records), shape)).toBe(text)
  })

  it.each(shapes)('%s keeps every unknown value when a record is added, changed and removed', (_what, document) => {
    const text = platformText(document)
    const {records, shape} = parseIndex(text, sharedBucket)
    const changed = cloneRecords(records).filter((r) => r.engagement_id !== 'eng-bbb')
    changed[0].source_bucket = 'metis-af-aaa-123456789012'
    changed.push(record('eng-ccc') as EngagementRecord)
    const written = serializeIndex(changed, shape)

    expect(written).toMatch(/"seq": 12345678901234567891[,\n]/)
    expect(written).not.toContain('isLosslessNumber')
    expect(written).toContain('"eng-ccc"')

    // Compared number by number as written: 1.0 is not 1, -0 is not 0.
    const before = exactly(text)
    const after = exactly(written)
    const withoutBucket = ({source_bucket: _bucket, ...rest}: Record<string, unknown>) => rest
    expect(withoutBucket(findRecord(after, 'eng-aaa')!)).toEqual(withoutBucket(findRecord(before, 'eng-aaa')!))
    expect(findRecord(after, 'eng-aaa')!.source_bucket).toBe('metis-af-aaa-123456789012')
    expect(findRecord(after, 'eng-bbb')).toBeUndefined()
    if (!Array.isArray(before) && 'engagements' in (before as object)) {
      expect({...(after as object), engagements: null}).toEqual({...(before as object), engagements: null})
      expect(Object.keys(after as object)).toEqual(Object.keys(before as object))
    }
  })

  it('reads a compact document with escapes and odd spacing value for value', () => {
    const text =
      '{ "engagements" : [ {"engagement_id":"eng-aaa","name":"Caf\\u00e9 \\ud834\\udd1e","client_id":"c","created_at":"2024-01-01T00:00:00Z",' +
      '"source_bucket":"","findings_key":"f","audit_log_key":"a","seq":12345678901234567891,"ratio":1.0,"e":1E+5,"z":-0,' +
      '"note":"\\u00e9\\n\\"q\\"\\/","nested":{"a":[1.50,{"b":{}}],"c":[]},"none":null} ] ,"version":1.0}'
    const {records, shape} = parseIndex(text, sharedBucket)
    expect(records[0].name).toBe('Café 𝄞')
    const written = serializeIndex(records, shape)
    expect(exactly(written)).toEqual(exactly(text))
    expect(written).toContain('"seq": 12345678901234567891,')
    expect(written).toContain('"ratio": 1.0,')
    expect(written).toContain('"e": 1E+5,')
    expect(written).toContain('"z": -0,')
    expect(written).toContain('"a": [\n')
    expect(written).toContain('1.50')
    expect(written).toContain('"version": 1.0\n}')
  })

  it('known fields are plain strings; unknown numbers print their digits in JSON and in tables', () => {
    const {records} = parseIndex(
      platformText([record('eng-aaa', {seq: '#12345678901234567891', ratio: '#1.0', deep: {n: '#-0'}})]),
      sharedBucket,
    )
    const [parsed] = records
    for (const field of [
      'engagement_id',
      'name',
      'client_id',
      'created_at',
      'source_bucket',
      'findings_key',
      'audit_log_key',
    ]) {
      expect(typeof parsed[field]).toBe('string')
    }
    expect(stringifyJson(parsed)).toContain('"seq":12345678901234567891,"ratio":1.0,"deep":{"n":-0}')
    expect(stringifyJson({engagements: records}, 2)).toContain('      "seq": 12345678901234567891,\n')
    const table = String(renderEngagement(parsed))
    expect(table).toMatch(/seq\s+12345678901234567891/)
    expect(table).toMatch(/ratio\s+1\.0/)
    expect(table).toMatch(/deep\s+\{"n":-0\}/)
  })

  it('an absent source_bucket stays absent and a null firm_id is accepted', () => {
    const text = platformText({engagements: [{engagement_id: 'eng-aaa', name: 'A', firm_id: null}]})
    const {records, shape} = parseIndex(text, sharedBucket)
    expect(records[0].source_bucket).toBeUndefined()
    expect(serializeIndex(records, shape)).toBe(text)
  })
})

describe('index document: corrupt indexes', () => {
  it.each([
    ['a wrapped map', {engagements: {'eng-aaa': record('eng-bbb')}}],
    ['a top-level map', {'eng-aaa': record('eng-aaa'), 'eng-ccc': record('eng-ddd')}],
  ])('%s whose key and engagement_id disagree', (_what, document) => {
    expect(corruptMessage(JSON.stringify(document))).toMatch(
      /is corrupt: entry "eng-(aaa|ccc)" holds engagement_id "eng-(bbb|ddd)"/,
    )
  })

  it.each([
    ['a top-level array', [record('eng-aaa'), record('eng-bbb'), record('eng-aaa', {name: 'Other'})]],
    ['a wrapped list', {engagements: [record('eng-aaa'), record('eng-aaa')]}],
  ])('an id twice in %s', (_what, document) => {
    expect(corruptMessage(JSON.stringify(document))).toMatch(/engagement "eng-aaa" appears twice/)
  })

  it.each([
    [
      'a wrapped map, different entries',
      `{"engagements": {"eng-aaa": ${JSON.stringify(entry('eng-aaa'))}, "eng-aaa": {"name": "Other"}}}`,
    ],
    ['a wrapped map, identical entries', `{"engagements": {"eng-aaa": {"name": "A"}, "eng-aaa": {"name": "A"}}}`],
    [
      'a top-level map, different entries',
      `{"eng-aaa": {"name": "A"}, "eng-bbb": {"name": "B"}, "eng-aaa": {"name": "C"}}`,
    ],
    ['a top-level map, the key spelt with an escape', `{"eng-aaa": {"name": "A"}, "eng-\\u0061aa": {"name": "A"}}`],
  ])('a repeated JSON key in %s', (_what, text) => {
    expect(corruptMessage(text)).toMatch(/the key "eng-aaa" appears twice in one object/)
  })

  it('a repeated key inside a record, which a rewrite would silently collapse', () => {
    expect(corruptMessage('[{"engagement_id": "eng-aaa", "seq": 1, "seq": 1}]')).toMatch(/the key "seq" appears twice/)
  })

  it('keys repeated in different objects are fine', () => {
    const text = platformText([
      record('eng-aaa', {meta: {name: 'x', 'a"b': 1}}),
      record('eng-bbb', {meta: {name: 'y', 'a"b': 2}}),
    ])
    expect(parseIndex(text, sharedBucket).records).toHaveLength(2)
  })

  it.each([
    [
      'source_bucket a number',
      [record('eng-aaa', {source_bucket: 5})],
      /engagement "eng-aaa" has a source_bucket that is not a string \(5\)/,
    ],
    ['source_bucket null', [record('eng-aaa', {source_bucket: null})], /source_bucket that is not a string \(null\)/],
    [
      'engagement_id a number',
      [record('eng-aaa', {engagement_id: 12345678901234567891n})],
      /entry 0 has no engagement_id/,
    ],
    [
      'name an object',
      {engagements: {'eng-aaa': entry('eng-aaa', {name: {first: 'x'}})}},
      /entry "eng-aaa" has a name that is not a string/,
    ],
    [
      'created_at a number',
      {'eng-aaa': entry('eng-aaa', {created_at: 1700000000})},
      /created_at that is not a string \(1700000000\)/,
    ],
    [
      'a map entry with a numeric engagement_id',
      {engagements: {'eng-aaa': {engagement_id: 7}}},
      /engagement_id that is not a string/,
    ],
  ])('a known field of the wrong type: %s', (_what, document, reason) => {
    const text = JSON.stringify(document, (_key, value) =>
      typeof value === 'bigint' ? `#${value}` : value,
    ).replaceAll(/"#([^"]*)"/g, '$1')
    expect(corruptMessage(text)).toMatch(reason)
  })
})

function findRecord(document: unknown, id: string): Record<string, unknown> | undefined {
  const list = Array.isArray(document) ? document : (document as {engagements?: unknown}).engagements
  if (Array.isArray(list)) return list.find((r) => r.engagement_id === id)
  const map = (list ?? document) as Record<string, Record<string, unknown>>
  return map[id] === undefined ? undefined : {engagement_id: id, ...map[id]}
}
