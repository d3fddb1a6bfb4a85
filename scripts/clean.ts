/**
 * The first step of `npm run build`: removes what the build writes again (the compiled CLI in
 * dist/, and oclif.manifest.json), so a deleted source leaves no stale module behind, and keeps
 * what `npm run package` made there (dist/auditforge-<platform>-<arch> and its .cjs script),
 * which the build does not make: `npm test` must not delete the single file.
 *
 *   tsx scripts/clean.ts [ROOT]
 */
import {existsSync, readdirSync, rmSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

/** What `npm run package` leaves in dist/: the single file and its script, for any platform. */
export const packagedFile = /^auditforge-[a-z0-9]+-[a-z0-9]+(\.cjs)?$/

/** Removes the build's output under `root`, keeping the packaged files; returns what it kept. */
export function removeBuildOutput(root: string): string[] {
  rmSync(join(root, 'oclif.manifest.json'), {force: true})
  const dist = join(root, 'dist')
  if (!existsSync(dist)) return []
  const kept: string[] = []
  for (const entry of readdirSync(dist)) {
    if (packagedFile.test(entry)) kept.push(entry)
    else rmSync(join(dist, entry), {force: true, recursive: true})
  }
  return kept
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  removeBuildOutput(resolve(process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url))))
}
