import {mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {removeBuildOutput} from '../../scripts/clean.js'

describe('the build clean step (scripts/clean.ts)', () => {
  let root: string
  afterEach(() => rmSync(root, {force: true, recursive: true}))

  it('removes the compiled CLI and the manifest, and keeps the packaged single files', () => {
    root = mkdtempSync(join(tmpdir(), 'af-clean-'))
    mkdirSync(join(root, 'dist', 'lib', 'migrate'), {recursive: true})
    const files = [
      'dist/base-command.js',
      'dist/lib/migrate/stale.js',
      'dist/auditforge-linux-x64',
      'dist/auditforge-linux-x64.cjs',
      'dist/auditforge-linux-arm64',
      'oclif.manifest.json',
      'package.json',
    ]
    for (const file of files) writeFileSync(join(root, file), file)
    expect(removeBuildOutput(root).sort()).toEqual([
      'auditforge-linux-arm64',
      'auditforge-linux-x64',
      'auditforge-linux-x64.cjs',
    ])
    expect(readdirSync(join(root, 'dist')).sort()).toEqual([
      'auditforge-linux-arm64',
      'auditforge-linux-x64',
      'auditforge-linux-x64.cjs',
    ])
    expect(readdirSync(root).sort()).toEqual(['dist', 'package.json'])
  })

  it('is what npm run build starts with (no rm -rf dist)', () => {
    root = mkdtempSync(join(tmpdir(), 'af-clean-'))
    const pjson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      scripts: Record<string, string>
    }
    expect(pjson.scripts.build).toMatch(/^tsx scripts\/clean\.ts && /)
    expect(pjson.scripts.build).not.toMatch(/rm -rf/)
  })

  it('is a no-op before the first build', () => {
    root = mkdtempSync(join(tmpdir(), 'af-clean-'))
    expect(removeBuildOutput(root)).toEqual([])
  })
})
