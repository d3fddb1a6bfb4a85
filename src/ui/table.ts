import Table from 'cli-table3'

import {Rendered, sanitize, useColor} from './terminal.js'

const noBorders = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
  bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
}

/**
 * A borderless table for stdout. Cells are sanitised. On a terminal the widest column is cut
 * (with …) so the table fits the terminal's width (80 columns when unknown); piped output is
 * never cut. Headings are coloured only on a colour terminal (cli-table3 colours
 * unconditionally unless told not to). The result is Rendered: the heading's colour must reach
 * the terminal, and every value in it has been sanitised here.
 */
export function renderTable(head: string[], rows: unknown[][]): Rendered {
  const cells = rows.map((row) => row.map((cell) => sanitize(cell)))
  const widths = head.map((title, column) => Math.max(title.length, ...cells.map((row) => row[column]?.length ?? 0)))
  const table = new Table({
    head,
    chars: noBorders,
    colWidths: fitWidths(widths),
    style: {head: useColor(process.stdout) ? ['bold'] : [], border: [], 'padding-left': 0, 'padding-right': 0},
  })
  for (const row of cells) table.push(row)
  return new Rendered(table.toString().split('\n').map((line) => line.trimEnd()).join('\n'))
}

function fitWidths(widths: number[]): number[] | undefined {
  if (!process.stdout.isTTY) return widths
  const available = (process.stdout.columns || 80) - 2 * (widths.length - 1)
  const fitted = [...widths]
  // Shrink the widest column until the table fits, but never below 8 characters.
  while (fitted.reduce((sum, width) => sum + width, 0) > available) {
    const widest = fitted.indexOf(Math.max(...fitted))
    if (fitted[widest] <= 8) break
    fitted[widest]--
  }
  return fitted
}
