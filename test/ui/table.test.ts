import {describe, expect, it} from 'vitest'

import {renderBucketCheck} from '../../src/ui/controls.js'
import {renderTable, textWidth, wrapText} from '../../src/ui/table.js'

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
    const head = [{title: 'Key of the object', fit: 'whole' as const}, {title: 'Note'}]
    const rows = [['k'.repeat(30), 'n'.repeat(30)]]
    // Room for both as blocks: nothing is cut.
    expect(lines(renderTable(head, rows, {width: 50}))).toEqual([
      `Key of the object: ${'k'.repeat(30)}`,
      `Note:              ${'n'.repeat(30)}`,
    ])
    // Not even as blocks: the short value is cut, the key is whole.
    expect(lines(renderTable(head, rows, {width: 45}))[1]).toBe(`${'k'.repeat(30)}  ${'n'.repeat(12)}…`)
  })

  it('drops a column with a rank before it cuts a date', () => {
    const table = lines(
      renderTable(
        [
          {title: 'Id', fit: 'whole'},
          {title: 'Name', fit: 'wrap'},
          {title: 'Created', drop: 1},
        ],
        [['eng-6715f196fa40', 'Acme Corp FY2024 statutory audit of the group', '2024-05-01']],
        {width: 40},
      ),
    )
    expect(table.join('\n')).not.toContain('…')
    expect(table.join('\n')).not.toContain('2024-0')
    expect(table[1]).toBe('eng-6715f196fa40  Acme Corp FY2024')
  })

  it('keeps words whole: a word too long for its column breaks after its punctuation, else the table becomes blocks', () => {
    const head = [
      {title: 'Check', fit: 'whole' as const},
      {title: 'Detail', fit: 'wrap' as const},
    ]
    const arn = 'arn:aws:sts::123456789012:assumed-role/AuditforgeOperator/session'
    const bucket = 'metis-af-f1088bd215fe-123456789012'
    // Broken only after ':' or '/', never inside a part.
    const byParts = lines(renderTable(head, [['credentials', `${arn} (account 123456789012)`]], {width: 50}))
    expect(byParts[1]).toBe('credentials  arn:aws:sts::123456789012:')
    expect(byParts[2]).toBe('             assumed-role/AuditforgeOperator/')
    expect(byParts[3]).toBe('             session (account 123456789012)')
    // A bucket name has no such place: blocks, with the name whole on its line.
    const blocks = lines(
      renderTable(head, [['engagement buckets', `1 managed bucket no record points at: ${bucket}`]], {width: 50}),
    )
    expect(blocks).toContain(`        ${bucket}`)
    for (const line of [...byParts, ...blocks]) expect(line.length).toBeLessThanOrEqual(50)
  })

  it('measures East Asian wide characters as two columns', () => {
    const table = lines(
      renderTable(
        [
          {title: 'Id', fit: 'whole'},
          {title: 'Name', fit: 'wrap'},
          {title: 'Bucket', fit: 'whole'},
        ],
        [
          ['eng-000000000001', '監査 株式会社', 'b1'],
          ['eng-000000000002', 'Acme', 'b2'],
        ],
        {width: 80},
      ),
    )
    // The bucket column starts at the same screen column on every row.
    const starts = table.slice(1).map((line) => textWidth(line.slice(0, line.lastIndexOf(' ') + 1)))
    expect(starts[0]).toBe(starts[1])
    expect(textWidth('監査')).toBe(4)
  })
})

describe('wrapText', () => {
  it('breaks at spaces, inside a word only when it must, and keeps an indent', () => {
    expect(wrapText('one two three', 7)).toEqual(['one two', 'three'])
    expect(wrapText('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij'])
    expect(wrapText('  S3.22, S3.23', 9)).toEqual(['  S3.22,', '  S3.23'])
    // A long word breaks after its punctuation first.
    expect(wrapText('auditforge:index=shared-me', 20)).toEqual(['auditforge:index=', 'shared-me'])
    expect(wrapText('監査監査監査', 5)).toEqual(['監査', '監査', '監査'])
  })
})

describe('renderBucketCheck', () => {
  it('at 64 columns the standard ids wrap before what was found does; at 60 each control is a block, words whole', () => {
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
    const table = lines(renderBucketCheck(check as never, 'fsbp', 64).text.replace(/\u001b\[\d+m/g, ''))
    for (const line of table) expect(line.length).toBeLessThanOrEqual(64)
    // The ids wrap one to a line, each whole; control names and results are never broken.
    expect(table[1]).toMatch(/^ {2}S3\.22, +cloudtrail-data-events +pass +skipped: not/)
    expect(table[2]).toMatch(/^ {2}S3\.23 +\S/)
    expect(table.some((line) => /^ {2}S3\.12 +object-ownership +pass +BucketOwner/.test(line))).toBe(true)
    // "(--cloudtrail-trail)" would have to break inside a word: blocks instead.
    const narrow = lines(renderBucketCheck(check as never, 'fsbp', 60).text.replace(/\u001b\[\d+m/g, ''))
    for (const line of narrow) expect(line.length).toBeLessThanOrEqual(60)
    expect(narrow).toContain('Control: cloudtrail-data-events')
    expect(narrow).toContain('Found:   skipped: not configured (--cloudtrail-trail)')
    expect(narrow).toContain('Found:   BucketOwnerEnforced')
  })
})
