/**
 * Every command's help: a summary, a description, and at least two examples that use long
 * flag names only; the help output itself names the global flags in their own group.
 */
import {readFileSync} from 'node:fs'

import {describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'

interface ManifestCommand {
  id: string
  summary?: string
  description?: string
  examples?: string[]
}

const manifest = JSON.parse(readFileSync(new URL('../../oclif.manifest.json', import.meta.url), 'utf8')) as {
  commands: Record<string, ManifestCommand>
}
const commands = Object.values(manifest.commands).filter((command) => command.id !== 'help')

describe('help', () => {
  it('covers every command', () => {
    expect(commands.map((command) => command.id).sort()).toEqual([
      'audit-log:export',
      'bucket:decommission',
      'bucket:provision',
      'bucket:verify',
      'doctor',
      'engagement:create',
      'engagement:delete',
      'engagement:list',
      'engagement:show',
      'migrate',
      'migrate:batch-role',
      'migrate:evidence',
      'migrate:purge-source',
      'migrate:rollback',
    ])
  })

  it.each(commands.map((command) => [command.id, command] as const))(
    '%s has a summary, a description and two examples with long flags',
    (_id, command) => {
      expect(command.summary?.length).toBeGreaterThan(10)
      expect(command.description?.length).toBeGreaterThan(40)
      expect(command.examples?.length).toBeGreaterThanOrEqual(2)
      // Only auditforge's own flags count: a pipe into jq may use jq's short options.
      for (const example of command.examples!) expect(example.split('|')[0]).not.toMatch(/\s-[a-z]\b/)
    },
  )

  it('destructive commands state their safety rule in the description', () => {
    for (const id of [
      'engagement:delete',
      'bucket:decommission',
      'migrate',
      'migrate:rollback',
      'migrate:purge-source',
    ]) {
      expect(manifest.commands[id].description, id).toMatch(/--yes/)
      expect(manifest.commands[id].description, id).toMatch(/exit 5/)
    }
  })

  it('groups the global flags apart from the command flags', async () => {
    const result = await runCli(['engagement', 'create', '--help'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/FLAGS[\s\S]*--name[\s\S]*GLOBAL FLAGS[\s\S]*--shared-bucket/)
    expect(result.stdout).toContain('EXAMPLES')
  })
})
