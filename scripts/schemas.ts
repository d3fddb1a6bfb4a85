/**
 * Writes `schemas/<command>.json`, the JSON Schema of each command's `--json` document, from the
 * result types in `src/results/` (`engagement create` → `EngagementCreateResult` in
 * `src/results/engagement.ts`), and `schemas/error.json` for the error document. A command
 * without its result type fails the run. `npm run schemas` runs it; `npm run schemas:check` (CI)
 * fails when a schema is stale, so a change of shape is a visible diff.
 */
import {mkdirSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

import {createGenerator} from 'ts-json-schema-generator'

const root = fileURLToPath(new URL('..', import.meta.url))
const commandsDir = join(root, 'src/commands')
const schemasDir = join(root, 'schemas')

/** Every command id, as typed (`migrate purge-source`), from the command files. */
export function commandIds(dir = commandsDir): string[] {
  return readdirSync(dir, {recursive: true, encoding: 'utf8'})
    .filter((file) => file.endsWith('.ts'))
    .map((file) =>
      file
        .replace(/\.ts$/, '')
        .split(/[\\/]/)
        .filter((part) => part !== 'index')
        .join(' '),
    )
    .sort()
}

const pascal = (words: string) =>
  words
    .split(/[\s-]/)
    .map((word) => word[0].toUpperCase() + word.slice(1))
    .join('')

/** Where a command's result type is: the module of its topic, named after the command. */
export function resultTypeOf(id: string): {module: string; type: string; schema: string} {
  return {
    module: `src/results/${id.split(' ')[0]}.ts`,
    type: `${pascal(id)}Result`,
    schema: `${id.replace(/ /g, '-')}.json`,
  }
}

function main(): void {
  const generator = createGenerator({
    path: join(root, 'src/results/*.ts'),
    tsconfig: join(root, 'tsconfig.json'),
    expose: 'export',
    topRef: true,
    jsDoc: 'extended',
    sortProps: true,
    additionalProperties: false,
    skipTypeCheck: true,
  })
  rmSync(schemasDir, {recursive: true, force: true})
  mkdirSync(schemasDir, {recursive: true})
  const write = (file: string, type: string, title: string) => {
    const schema = {...generator.createSchema(type), $id: `https://auditforge.invalid/schemas/${file}`, title}
    writeFileSync(join(schemasDir, file), `${JSON.stringify(schema, null, 2)}\n`)
  }
  for (const id of commandIds()) {
    const {module, schema, type} = resultTypeOf(id)
    try {
      write(schema, type, `auditforge ${id} --json`)
    } catch (error) {
      throw new Error(`${id}: no result type ${type} exported from ${module} (${(error as Error).message})`)
    }
  }
  write('error.json', 'JsonError', 'auditforge <any command> --json, when it fails before it has a result')
  process.stdout.write(`Wrote ${relative(root, schemasDir)}/: ${commandIds().length} commands and error.json\n`)
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main()
