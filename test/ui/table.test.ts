import {describe, expect, it} from 'vitest'

import {renderBucketCheck} from '../../src/ui/controls.js'
import {renderTable, wrapText} from '../../src/ui/table.js'

const lines = (text: unknown) => String(text).split('\n')

describe('renderTable', () => {
  const head = [
    {title: 'Engagement', fit: 'whole' as const},
    {title: 'Name', fit: 'wrap' as const},
    {title: 'Bucket', fit: 'whole' as const},
    {title: 'Created', drop: 1},
  ]
  const row = [
    'eng-6715f196fa40',
    'Acme Corp FY2024 statutory audit',
    'metis-af-6715f196fa40-741783034843',
    '2024-05-01',
  ]

  it('drops the droppable column before free text narrows past reading, and wraps it; ids stay whole', () => {
    const table = lines(renderTable(head, [row], {width: 80}))
    expect(table[0]).toMatch(/^Engagement\s+Name\s+Bucket$/)
    expect(table[1]).toBe('eng-6715f196fa40  Acme Corp FY2024 statutory  metis-af-6715f196fa40-741783034843')
    expect(table[2].trim()).toBe('audit')
    for (const line of table) expect(line.length).toBeLessThanOrEqual(80)
  })

  it('keeps every column when there is room', () => {
    expect(lines(renderTable(head, [row], {width: 120}))[1]).toBe(
      `eng-6715f196fa40  Acme Corp FY2024 statutory audit  metis-af-6715f196fa40-741783034843  2024-05-01`,
    )
  })

  it('too narrow for the identifiers side by side: labelled blocks, nothing cut', () => {
    const table = lines(renderTable(head, [row, row], {width: 50}))
    expect(table.slice(0, 5)).toEqual([
      'Engagement: eng-6715f196fa40',
      'Name:       Acme Corp FY2024 statutory audit',
      'Bucket:     metis-af-6715f196fa40-741783034843',
      'Created:    2024-05-01',
      '',
    ])
  })

  it('cuts a right-sized short column with … only when nothing else gives', () => {
    const table = lines(
      renderTable([{title: 'Key', fit: 'whole'}, {title: 'Note'}], [['k'.repeat(30), 'n'.repeat(30)]], {width: 45}),
    )
    expect(table[1]).toBe(`${'k'.repeat(30)}  ${'n'.repeat(12)}…`)
  })
})

describe('wrapText', () => {
  it('breaks at spaces, inside a word only when it must, and keeps an indent', () => {
    expect(wrapText('one two three', 7)).toEqual(['one two', 'three'])
    expect(wrapText('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij'])
    expect(wrapText('  S3.22, S3.23', 9)).toEqual(['  S3.22,', '  S3.23'])
  })
})

describe('renderBucketCheck', () => {
  it('at 60 columns the standard ids wrap before what was found does', () => {
    const control = (name: string, ids: string[], actual: string) => ({
      control: name,
      status: 'pass',
      actual,
      standards: {fsbp: ids},
    })
    const check = {
      bucket: 'b',
      ok: true,
      controls: [
        control('cloudtrail-data-events', ['S3.22', 'S3.23'], 'skipped: not configured (--cloudtrail-trail)'),
        control('object-ownership', ['S3.12'], 'BucketOwnerEnforced'),
      ],
    }
    const table = lines(renderBucketCheck(check as never, 'fsbp', 60).text.replace(/\u001b\[\d+m/g, ''))
    for (const line of table) expect(line.length).toBeLessThanOrEqual(60)
    // The ids wrap one to a line, each whole; control names and results are never broken.
    expect(table[1]).toMatch(/^ {2}S3\.22, +cloudtrail-data-events +pass +skipped: not/)
    expect(table[2]).toMatch(/^ {2}S3\.23 +\S/)
    expect(table.some((line) => /^ {2}S3\.12 +object-ownership +pass +BucketOwner/.test(line))).toBe(true)
  })
})
