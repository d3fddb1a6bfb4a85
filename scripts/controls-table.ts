/**
 * Writes the README's bucket controls table from the controls table itself
 * (src/lib/buckets/controls.ts), between `<!-- controls -->` and `<!-- controlsstop -->`.
 * `npm run readme` runs it; `npm run readme:check` (CI) fails when the README is stale.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {bucketControls} from '../src/lib/buckets/controls.js'

const readme = fileURLToPath(new URL('../README.md', import.meta.url))
const start = '<!-- controls -->'
const stop = '<!-- controlsstop -->'

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;')
const ids = (list: string[] | undefined) => (list && list.length > 0 ? list.map((id) => `\`${id}\``).join(', ') : '—')

/** The table as Markdown: one row per control, in the order they are applied. */
export function controlsTable(): string {
  const rows = bucketControls.map((control) =>
    [
      `\`${control.id}\``,
      cell(control.description),
      ids(control.standards.fsbp),
      ids(control.standards.cis),
      ids(control.standards.prowler),
      cell(control.appliesWhen),
    ].join(' | '),
  )
  return [
    '| control | what | FSBP | CIS | Prowler | applies |',
    '|---|---|---|---|---|---|',
    ...rows.map((row) => `| ${row} |`),
  ].join('\n')
}

const text = readFileSync(readme, 'utf8')
const from = text.indexOf(start)
const to = text.indexOf(stop)
if (from < 0 || to < from) {
  console.error(`README.md has no ${start} … ${stop} block`)
  process.exit(1)
}
const updated = `${text.slice(0, from + start.length)}\n${controlsTable()}\n${text.slice(to)}`
if (updated !== text) writeFileSync(readme, updated)
