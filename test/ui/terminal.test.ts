import {describe, expect, it} from 'vitest'

import {toJsonText} from '../../src/base-command.js'
import {differenceText, renderDifferences, renderPlan} from '../../src/ui/migration.js'
import {Rendered, sanitize} from '../../src/ui/terminal.js'

describe('sanitize', () => {
  it('escapes an OSC title sequence and its BEL terminator', () => {
    expect(sanitize('a\u001b]0;pwned\u0007b')).toBe('a\\u001b]0;pwned\\u0007b')
  })

  it('escapes 7-bit CSI (ESC [) and 8-bit CSI (U+009B) and the other C1 controls', () => {
    expect(sanitize('\u001b[2J')).toBe('\\u001b[2J')
    expect(sanitize('\u009b2J')).toBe('\\u009b2J')
    expect(sanitize('\u009d0;t\u009c\u0080\u009f')).toBe('\\u009d0;t\\u009c\\u0080\\u009f')
  })

  it('escapes CR, DEL, NUL and tab', () => {
    expect(sanitize('safe\rforged')).toBe('safe\\u000dforged')
    expect(sanitize('x\u007f\u0000\ty')).toBe('x\\u007f\\u0000\\u0009y')
  })

  it('escapes bidi embeddings, overrides and isolates, and the line separators', () => {
    const trojan = 'bucket-\u202eelif\u202c-\u2066x\u2069-\u202a\u202b\u202d\u2067\u2068'
    expect(sanitize(trojan)).toBe('bucket-\\u202eelif\\u202c-\\u2066x\\u2069-\\u202a\\u202b\\u202d\\u2067\\u2068')
    expect(sanitize('a\u2028b\u2029c')).toBe('a\\u2028b\\u2029c')
  })

  it('escapes \\n by default; keepNewlines lets only \\n through, never CR', () => {
    expect(sanitize('key\nError: forged')).toBe('key\\u000aError: forged')
    expect(sanitize('line one\nline two\r\u001b[2J', {keepNewlines: true})).toBe('line one\nline two\\u000d\\u001b[2J')
  })

  it('leaves printable text alone, non-Latin scripts included, and is idempotent', () => {
    const text = 'Prüfung 監査 مراجعة — eng-abc/key (1).txt'
    expect(sanitize(text)).toBe(text)
    const once = sanitize('\u001b]0;x\u0007\r\n')
    expect(sanitize(once)).toBe(once)
    expect(sanitize(undefined)).toBe('')
    expect(sanitize(42)).toBe('42')
  })
})

describe('renderers', () => {
  it('renderDifferences keeps each key on its own line as a detail, unsanitised until printed', () => {
    const [message, details] = renderDifferences('eng-abc', [
      {key: 'a\nb', kind: 'missing_in_target', source: '"e1"', target: null, detail: null},
      {key: 'x', kind: 'size_differs', source: '1 B', target: '2 B', detail: 'source 1 B, target 2 B'},
    ])
    expect(message).not.toContain('\n')
    expect(details).toEqual(['missing in target: a\nb', 'size differs: x (source 1 B, target 2 B)'])
  })

  it('renderDifferences shows the first 20 and counts the rest, those not listed included', () => {
    const differences = Array.from({length: 25}, (_, i) => ({
      key: `k${i}`,
      kind: 'missing' as const,
      source: null,
      target: null,
      detail: 'not in the target',
    }))
    const [, details] = renderDifferences('eng-abc', differences, 975)
    expect(details).toHaveLength(21)
    expect(details[0]).toBe('missing: k0 (not in the target)')
    expect(details.at(-1)).toBe('… and 980 more')
  })

  it('differenceText: a difference of the whole engagement has no key', () => {
    expect(differenceText({key: null, kind: 'not_migrated', detail: 'source_bucket is empty'})).toBe(
      'not migrated: source_bucket is empty',
    )
  })

  it('renderPlan sanitises every value, so none adds a line', () => {
    const plan = renderPlan('shared\n\u001b[2J', [
      {
        engagement_id: 'eng-a\rb',
        target_bucket: 'b\u001b]0;x\u0007',
        objects: 1,
        bytes: 1,
        status: 'planned',
        copied: 0,
        skipped_existing: 0,
      } as never,
    ])
    expect(plan).not.toMatch(/[\u001b\u0007\r]/)
    expect(plan).toContain('Source bucket: shared\\u000a\\u001b[2J')
    expect(plan.split('\n')).toHaveLength(7)
  })

  it('Rendered carries its text as it is', () => {
    expect(String(new Rendered('\u001b[1mhead\u001b[22m'))).toBe('\u001b[1mhead\u001b[22m')
  })
})

describe('--json text', () => {
  it('is exact JSON: it parses back to the very same strings, with C1 and bidi controls escaped', () => {
    const value = {key: 'a\u001b]0;pwned\u0007\u009b2J\u202e\u2028\r\n\u007f'}
    const text = toJsonText(value)
    expect(JSON.parse(text)).toEqual(value)
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/)
    expect(text).toContain('\\u001b]0;pwned\\u0007\\u009b2J\\u202e\\u2028\\r\\n\\u007f')
  })
})
