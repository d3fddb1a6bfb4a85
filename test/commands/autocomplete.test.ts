/**
 * Shell completion from @oclif/plugin-autocomplete, as the README tells an operator to enable
 * it: the setup line for bash, zsh and PowerShell, and in a real bash the completion of topics,
 * commands and flags (auditforge's own, from the built manifest).
 */
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {runCli} from '../helpers/cli.js'

let home: string
const env = () => ({HOME: home, XDG_CACHE_HOME: undefined})
const cache = () => join(home, '.cache', 'auditforge', 'autocomplete')

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'af-complete-'))
})
afterAll(() => rmSync(home, {recursive: true, force: true}))

/** What bash offers for the words typed so far (the last one may be empty: after a space). */
function completeInBash(setup: string, line: string): string[] {
  const script = [
    setup,
    'read -ra COMP_WORDS <<< "$LINE"',
    '[[ "$LINE" == *" " ]] && COMP_WORDS+=("")',
    'COMP_CWORD=$((${#COMP_WORDS[@]} - 1))',
    'COMP_LINE="$LINE"',
    '_auditforge_autocomplete',
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join('\n')
  const result = spawnSync('bash', ['--norc', '--noprofile', '-c', script], {
    env: {PATH: process.env.PATH, HOME: home, LINE: line},
    encoding: 'utf8',
  })
  expect(result.status, result.stderr).toBe(0)
  return [...new Set(result.stdout.split('\n').filter((word) => word !== ''))].sort()
}

describe('autocomplete', () => {
  it('bash: the instructions build the cache; the setup line completes topics, commands and flags', async () => {
    const instructions = await runCli(['autocomplete', 'bash'], {env: env()})
    expect(instructions.code, instructions.stderr).toBe(0)
    expect(instructions.stdout).toContain('auditforge autocomplete script bash')
    expect(existsSync(join(cache(), 'functions', 'bash', 'auditforge.bash'))).toBe(true)

    const setup = await runCli(['autocomplete', 'script', 'bash'], {env: env()})
    expect(setup.code).toBe(0)
    expect(setup.stdout).toContain(join(cache(), 'bash_setup'))

    expect(completeInBash(setup.stdout, 'auditforge engag')).toEqual(['engagement'])
    expect(completeInBash(setup.stdout, 'auditforge engagement ')).toEqual(['create', 'delete', 'list', 'show'])
    expect(completeInBash(setup.stdout, 'auditforge migrate ')).toEqual(
      expect.arrayContaining(['rollback', 'evidence', 'purge-source']),
    )
    expect(completeInBash(setup.stdout, 'auditforge engagement list --js')).toEqual(['--json'])
    expect(completeInBash(setup.stdout, 'auditforge bucket verify --stan')).toEqual(['--standard'])
  })

  it('zsh and PowerShell: a setup line and a completion function naming the commands', async () => {
    const refresh = await runCli(['autocomplete', '--refresh-cache'], {env: env()})
    expect(refresh.code, refresh.stderr).toBe(0)

    const zsh = await runCli(['autocomplete', 'script', 'zsh'], {env: env()})
    expect(zsh.code).toBe(0)
    expect(zsh.stdout).toContain(join(cache(), 'zsh_setup'))
    const zshFunction = readFileSync(join(cache(), 'functions', 'zsh', '_auditforge'), 'utf8')
    expect(zshFunction).toMatch(/^#compdef auditforge/)
    expect(zshFunction).toContain('_auditforge_engagement()')
    expect(zshFunction).toContain('--shared-bucket')

    const powershell = await runCli(['autocomplete', 'script', 'powershell'], {env: env()})
    expect(powershell.code).toBe(0)
    expect(powershell.stdout).toContain(join(cache(), 'functions', 'powershell', 'auditforge.ps1'))
    const ps1 = readFileSync(join(cache(), 'functions', 'powershell', 'auditforge.ps1'), 'utf8')
    expect(ps1).toContain('Register-ArgumentCompleter')
    expect(ps1).toContain('"summary" = "Empty and delete a per-engagement bucket."')
  })

  it('is a command of the CLI, listed in its help', async () => {
    const help = await runCli(['--help'], {env: env()})
    expect(help.code).toBe(0)
    expect(help.stdout).toMatch(/autocomplete\s+Display autocomplete installation instructions/)
  })
})
