import Table from 'cli-table3'
import stringWidth from 'string-width'

import {Rendered, sanitize, useColor} from './terminal.js'

const noBorders = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
}

/**
 * How a column gives way when the table is wider than the terminal:
 * - `whole`: identifiers an operator copies (engagement ids, bucket names, keys, job ids): never
 *   cut, never wrapped, on a terminal or piped.
 * - `wrap`: free text (reasons, details, names): wrapped on a terminal; cut with … when piped.
 * - `cut`: short values (dates, counts, labels): cut with … when nothing else gives.
 */
export type ColumnFit = 'whole' | 'wrap' | 'cut'

export interface Column {
  title: string
  /** Default `cut`. */
  fit?: ColumnFit
  /** A column with a rank is dropped, lowest rank first, when the table does not fit otherwise. */
  drop?: number
  align?: 'left' | 'right'
}

/** A cell that gives way differently from its column (a record's identifiers among its free-text fields). */
export interface Cell {
  value: unknown
  fit: ColumnFit
}

const isCell = (cell: unknown): cell is Cell =>
  typeof cell === 'object' && cell !== null && 'fit' in cell && 'value' in cell

export interface TableOptions {
  /** The width to fit; default the terminal's when stdout is one, else none (piped). */
  width?: number
  /** A rule of this character under the heading (seed 001's plan layout). */
  rule?: string
  /** No heading colour: for text that is printed as a plain string (its values already sanitised). */
  plain?: boolean
}

/** Piped output has no width to fit; free text is cut at this many characters so one long value cannot widen every row. */
export const pipedTextWidth = 48
const gap = 2
const minWrap = 10
/** Free text narrower than this is hard to read: columns with a drop rank go first. */
const readableWrap = 20
const minCut = 6

/** The columns a value takes on screen: East Asian wide characters count two, combining marks none (as cli-table3 pads). */
export const textWidth = (text: string): number => stringWidth(text)

/** `text` cut to `width` columns on screen, the last one `…` when anything was cut. */
export function cutText(text: string, width: number): string {
  if (textWidth(text) <= width) return text
  return `${takeColumns(text, Math.max(0, width - 1))[0]}…`
}

/** The longest start of `text` that takes at most `width` columns, and the rest. */
function takeColumns(text: string, width: number): [string, string] {
  let used = 0
  let taken = ''
  for (const char of text) {
    const w = textWidth(char)
    if (used + w > width) break
    used += w
    taken += char
  }
  return [taken, text.slice(taken.length)]
}

/**
 * Where a word too long for its column may break without losing its sense: after `/`, `:`, `=` or
 * `,` (an ARN's parts, `key=value`, a list). A word is split into these pieces; a bucket name or an
 * id has none, so it is one piece.
 */
export function wordPieces(word: string): string[] {
  return word.match(/[^/:=,]*[/:=,]+|[^/:=,]+$/g) ?? [word]
}

/**
 * `text` broken into lines of at most `width` columns: at spaces where it can, else a long word
 * after one of its punctuation marks ({@link wordPieces}), and inside a piece only where nothing else fits.
 */
export function wrapText(text: string, width: number): string[] {
  // An indented value (a row set in under its heading) keeps its indent on every line.
  const indent = /^ */.exec(text)![0]
  if (indent.length > 0 && indent.length < width - 1)
    return wrapText(text.slice(indent.length), width - indent.length).map((line) => `${indent}${line}`)
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    const candidate = line === '' ? word : `${line} ${word}`
    if (textWidth(candidate) <= width) {
      line = candidate
      continue
    }
    if (line !== '') lines.push(line)
    line = ''
    for (const piece of wordPieces(word)) {
      if (textWidth(line + piece) <= width) {
        line += piece
        continue
      }
      if (line !== '') lines.push(line)
      let rest = piece
      while (textWidth(rest) > width) {
        const [head, tail] = takeColumns(rest, Math.max(1, width))
        lines.push(head)
        rest = tail
      }
      line = rest
    }
  }
  if (line !== '' || lines.length === 0) lines.push(line)
  return lines
}

/** The terminal's width when stdout is one; undefined when piped. */
export function terminalWidth(stream: NodeJS.WriteStream = process.stdout): number | undefined {
  return stream.isTTY ? stream.columns || 80 : undefined
}

/**
 * A borderless table for stdout. Cells are sanitised. On a terminal the table fits its width:
 * `cut` and `wrap` columns narrow first (free text wraps), then columns with a drop rank go,
 * and when the identifiers alone are still too wide each row becomes a block of `Title: value`
 * lines, so nothing that must be copied is ever cut. Piped, columns are as wide as their
 * values, except free text before the last column, which is cut at {@link pipedTextWidth} characters (`--json` has it
 * whole). Headings are coloured only on a colour terminal (cli-table3 colours unconditionally
 * unless told not to). The result is Rendered: the heading's colour must reach the terminal,
 * and every value in it has been sanitised here.
 */
export function renderTable(head: (Column | string)[], rows: unknown[][], options: TableOptions = {}): Rendered {
  const columns = head.map((column) => (typeof column === 'string' ? {title: column} : column))
  const cells: Cell[][] = rows.map((row) =>
    columns.map((column, index) => {
      const cell = row[index]
      return isCell(cell)
        ? {value: sanitize(cell.value), fit: cell.fit}
        : {value: sanitize(cell), fit: column.fit ?? 'cut'}
    }),
  )
  const width = options.width ?? terminalWidth()
  const widest = (index: number, of: (cell: Cell) => boolean) =>
    Math.max(
      textWidth(columns[index].title),
      ...cells.map((row) => (of(row[index]) ? textWidth(row[index].value as string) : 0)),
    )
  const natural = columns.map((_, index) => widest(index, () => true))
  // Identifiers set a column's least width; free text may be narrower than its longest value.
  const whole = columns.map((_, index) => widest(index, (cell) => cell.fit === 'whole'))
  if (width === undefined) {
    // The last column pads nothing after it, so its text (a reason, a detail) is never cut.
    const last = columns.length - 1
    const widths = columns.map((_, index) =>
      index === last ? natural[index] : Math.max(whole[index], Math.min(natural[index], pipedTextWidth)),
    )
    return draw(columns, cells, widths, undefined, options)
  }
  // The longest word of each column, and the longest piece of a word it may break into, with
  // the indent a value keeps on every wrapped line.
  const longest = (measure: (word: string) => number) =>
    columns.map((_, index) =>
      Math.max(
        0,
        ...cells.map((row) => {
          const value = row[index].value as string
          const words = value.trim().split(' ')
          return /^ */.exec(value)![0].length + Math.max(...words.map(measure))
        }),
      ),
    )
  const longestWord = longest(textWidth)
  const longestPiece = longest((word) => Math.max(...wordPieces(word).map(textWidth)))
  const layout = fit(columns, {natural, whole, longestWord, longestPiece}, width)
  if (layout === 'stacked') return stacked(columns, cells, width)
  const kept = layout.map((_, index) => index).filter((index) => layout[index] > 0)
  return draw(
    kept.map((index) => columns[index]),
    cells.map((row) => kept.map((index) => row[index])),
    kept.map((index) => layout[index]),
    width,
    options,
  )
}

/** What each column needs, in columns on screen. */
interface Measures {
  natural: number[]
  /** The widest identifier (a `whole` cell): the column's least width. */
  whole: number[]
  longestWord: number[]
  /** The longest piece of a word broken only after its punctuation ({@link wordPieces}). */
  longestPiece: number[]
}

/**
 * Each column's width on a terminal (0: dropped), or `stacked` when the table should become
 * blocks of `Title: value` lines. In order, the first that fits:
 * 1. every word whole and free text at least readable, with columns dropped one by one (lowest
 *    rank first); then, with all of them gone, free text as narrow as its longest word;
 * 2. the same, long words broken only after `/`, `:`, `=` or `,` (`key=value`, an ARN's parts);
 * 3. blocks, when their values fit there with every word whole;
 * 4. with every droppable column gone, free text narrowed to its shortest and short values cut;
 * 5. blocks (the identifiers alone do not fit side by side).
 * Dates, counts and labels (`cut`) keep their width until step 4: a column is dropped before one is cut.
 */
function fit(columns: Column[], measures: Measures, width: number): number[] | 'stacked' {
  const {natural, whole, longestWord, longestPiece} = measures
  // A wrap column may narrow to a readable width, never below `word` (what must stay in one piece);
  // dates, counts and labels keep their width until nothing else gives.
  const keeping = (word: number[], readable = readableWrap) =>
    columns.map((column, index) =>
      Math.max(
        whole[index],
        column.fit === 'wrap' ? Math.min(natural[index], Math.max(readable, word[index])) : natural[index],
      ),
    )
  const lastResort = columns.map((column, index) =>
    Math.max(
      whole[index],
      Math.min(natural[index], column.fit === 'wrap' ? Math.min(minWrap, longestWord[index]) : minCut),
    ),
  )
  const droppable = columns.map((column, index) => ({column, index})).filter(({column}) => column.drop !== undefined)
  droppable.sort((a, b) => a.column.drop! - b.column.drop!)
  const levels = Array.from({length: droppable.length + 1}, (_, dropped) => dropped)
  const attempts: ({least: number[]; dropped: number} | 'stacked')[] = [
    ...levels.map((dropped) => ({least: keeping(longestWord), dropped})),
    {least: keeping(longestWord, 0), dropped: droppable.length},
    ...levels.map((dropped) => ({least: keeping(longestPiece), dropped})),
    {least: keeping(longestPiece, 0), dropped: droppable.length},
    ...(stackedFits(columns, measures, width) ? ['stacked' as const] : []),
    {least: lastResort, dropped: droppable.length},
  ]
  for (const attempt of attempts) {
    if (attempt === 'stacked') return attempt
    const {least, dropped} = attempt
    const active = columns.map(
      (_, index) => !droppable.slice(0, dropped).some((candidate) => candidate.index === index),
    )
    const total = (widths: number[]) =>
      widths.reduce((sum, w, index) => sum + (active[index] ? w : 0), 0) + gap * (active.filter(Boolean).length - 1)
    if (total(least) > width) continue
    const widths = natural.map((w, index) => (active[index] ? w : 0))
    // Narrow a column that can still give until the table fits: free text first, and of that
    // first what can wrap between words (the most room above its longest word), then the widest.
    while (total(widths) > width) {
      const candidates = widths
        .map((w, index) => ({w, index, slack: w - longestWord[index]}))
        .filter(({w, index}) => active[index] && w > least[index])
      const wrapping = candidates.filter(({index}) => columns[index].fit === 'wrap')
      const pool = wrapping.length > 0 ? wrapping : candidates
      const between = pool.filter(({slack}) => slack > 0)
      const pick =
        between.length > 0
          ? between.reduce((a, b) => (b.slack > a.slack ? b : a))
          : pool.reduce((a, b) => (b.w > a.w ? b : a))
      widths[pick.index]--
    }
    return widths
  }
  return 'stacked'
}

/** Whether blocks of `Title: value` lines hold every value with its words whole. */
function stackedFits(columns: Column[], {natural, longestWord}: Measures, width: number): boolean {
  const room = width - stackedLabelWidth(columns)
  return columns.every((column, index) => (column.fit === 'wrap' ? longestWord[index] : natural[index]) <= room)
}

const stackedLabelWidth = (columns: Column[]) =>
  Math.max(...columns.map((column) => textWidth(column.title.trim()))) + 2

/** The table as lines; `width` undefined when piped (free text cut, never wrapped). */
function draw(
  columns: Column[],
  cells: Cell[][],
  widths: number[],
  width: number | undefined,
  options: TableOptions,
): Rendered {
  const table = new Table({
    head: columns.map((column) => column.title),
    chars: noBorders,
    colWidths: widths,
    colAligns: columns.map((column) => column.align ?? 'left'),
    style: {
      head: useColor(process.stdout) && !options.plain ? ['bold'] : [],
      border: [],
      'padding-left': 0,
      'padding-right': 0,
    },
  })
  for (const row of cells) {
    table.push(
      row.map((cell, index) => {
        const value = cell.value as string
        if (cell.fit === 'whole' || textWidth(value) <= widths[index]) return value
        return cell.fit === 'wrap' && width !== undefined
          ? wrapText(value, widths[index]).join('\n')
          : cutText(value, widths[index])
      }),
    )
  }
  const lines = table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
  if (options.rule)
    lines.splice(1, 0, options.rule.repeat(widths.reduce((sum, w) => sum + w, 0) + gap * (widths.length - 1)))
  return new Rendered(lines.join('\n'))
}

/** Too narrow for columns: each row a block of `Title: value` lines, free text wrapped, identifiers whole. */
function stacked(columns: Column[], cells: Cell[][], width: number): Rendered {
  const titles = columns.map((column) => column.title.trim())
  const label = stackedLabelWidth(columns)
  const blocks = cells.map((row) =>
    row.flatMap(({value, fit: cellFit}, index) => {
      const cell = value as string
      const title = `${titles[index]}:`.padEnd(label)
      const room = Math.max(minWrap, width - label)
      const values = cellFit === 'whole' ? [cell] : cellFit === 'wrap' ? wrapText(cell, room) : [cutText(cell, room)]
      return values.map((value, line) => `${line === 0 ? title : ' '.repeat(label)}${value}`.trimEnd())
    }),
  )
  return new Rendered(blocks.map((block) => block.join('\n')).join('\n\n'))
}
