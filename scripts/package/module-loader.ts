/**
 * Stands in for @oclif/core's module loader inside the single file (scripts/package.ts points
 * oclif's own imports of `module-loader` here). oclif loads commands and hooks by file path;
 * a Node single executable has no such files and its `require` loads built-in modules only, so
 * every path is answered from the modules bundled beside it. A path that is not bundled fails
 * as a missing module does on disk.
 */
import {plugins} from 'auditforge:bundle'
import {relative} from 'node:path'

interface Loader {
  name?: string
  root: string
}

function bundled(loader: Loader, modulePath: string): () => Promise<Record<string, unknown>> {
  const plugin = plugins.find((candidate) => candidate.name === loader.name)
  const key = relative(loader.root, modulePath).split('\\').join('/')
  const candidates = [key, `${key}.js`, `${key}/index.js`]
  const found = plugin && candidates.map((candidate) => plugin.modules[candidate]).find(Boolean)
  if (!found) {
    throw Object.assign(new Error(`${modulePath} is not part of the single-file bundle`), {code: 'MODULE_NOT_FOUND'})
  }
  return found
}

export async function load(config: Loader, modulePath: string): Promise<Record<string, unknown>> {
  return bundled(config, modulePath)()
}

export async function loadWithData(
  config: Loader,
  modulePath: string,
): Promise<{filePath: string; isESM: boolean; module: Record<string, unknown>}> {
  return {filePath: modulePath, isESM: true, module: await bundled(config, modulePath)()}
}

export async function loadWithDataFromManifest(
  cached: {pluginName?: string; relativePath?: string[]},
  root: string,
): Promise<{filePath: string; isESM: boolean; module: Record<string, unknown>}> {
  const filePath = [root, ...(cached.relativePath ?? [])].join('/')
  return {filePath, isESM: true, module: await bundled({name: cached.pluginName, root}, filePath)()}
}

export function isPathModule(): boolean {
  return true
}
