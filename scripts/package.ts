/**
 * `npm run package`: the CLI as one executable file, `dist/auditforge-<platform>-<arch>`, for the
 * machine that builds it (linux-x64 on the project's machines). Nothing is downloaded:
 *
 * 1. oclif loads the freshly built CLI from disk as `bin/run.js` would (`npm run build` ran
 *    first), and every plugin it loads — the CLI itself and its core plugins — is written into
 *    a generated module: package.json fields, manifest, and a lazy import of each command and
 *    hook module;
 * 2. esbuild bundles scripts/package/entry.ts with that module and every dependency into one
 *    CommonJS script (the form Node 20's single executable applications run), with oclif's
 *    module loader answered from the bundle (scripts/package/module-loader.ts); the script is
 *    unminified and kept as `dist/auditforge-<platform>-<arch>.cjs`, the file stack traces name;
 * 3. Node's single executable application support (`node --experimental-sea-config`) turns the
 *    script into a blob, and postject injects it into a copy of this Node binary
 *    (process.execPath), which then needs neither node_modules nor a Node installation.
 *
 * The file runs where this Node binary runs: the same CPU architecture and a glibc at least as
 * new as the one this Node was built for.
 */
import {Config, type Interfaces} from '@oclif/core'
import {build, type Plugin as EsbuildPlugin} from 'esbuild'
import {execFileSync} from 'node:child_process'
import {chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'
import {inject} from 'postject'

const root = fileURLToPath(new URL('..', import.meta.url))
const started = process.hrtime.bigint()
const target = `${process.platform}-${process.arch}`
const output = join(root, 'dist', `auditforge-${target}`)
// The script inside it, kept beside it: stack traces (DEBUG=auditforge) name this file and its lines.
const script = `${output}.cjs`
// Node's own fuse: the binary looks for its blob only when this string has been flipped.
const seaFuse = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'

/** The module file a hook or command target names, as oclif's loader resolves it. */
function moduleFile(path: string): string {
  const found = [path, `${path}.js`, join(path, 'index.js')].find(
    (candidate) => existsSync(candidate) && statSync(candidate).isFile(),
  )
  if (!found) throw new Error(`${path}: no module file to bundle`)
  return found
}

/** Source of the `auditforge:bundle` module: every plugin the installed CLI loads. */
async function bundleModule(): Promise<string> {
  const config = await Config.load({devPlugins: false, root, userPlugins: false})
  if (config.pjson.oclif.helpClass) throw new Error('oclif.helpClass is not bundled: add it to scripts/package.ts')
  const plugins = config.getPluginsList().map((plugin) => {
    const modules: string[] = []
    const commands: Interfaces.Manifest['commands'] = {}
    for (const {load, ...command} of plugin.commands) {
      if (!command.relativePath)
        throw new Error(
          `${plugin.name} ${command.id}: no relativePath in its manifest; only oclif's pattern strategy is bundled`,
        )
      modules.push(command.relativePath.join('/'))
      commands[command.id] = command
    }
    for (const hooks of Object.values(plugin.hooks)) {
      for (const hook of hooks) {
        const file = moduleFile(join(plugin.root, hook.target))
        modules.push(relative(plugin.root, file))
        // The loader asks for the target as written, without its extension or index.js.
        modules.push(relative(plugin.root, join(plugin.root, hook.target)))
      }
    }
    const imports = [...new Set(modules)]
      .map((key) => `    ${JSON.stringify(key)}: () => import(${JSON.stringify(moduleFile(join(plugin.root, key)))}),`)
      .join('\n')
    const pjson: Interfaces.PJSON = {
      name: plugin.pjson.name,
      oclif: plugin.pjson.oclif,
      type: plugin.pjson.type,
      version: plugin.pjson.version,
    }
    const data = {
      isRoot: plugin.isRoot,
      manifest: {commands, version: plugin.version},
      name: plugin.name,
      pjson,
      type: plugin.type,
      version: plugin.version,
    }
    return `  {...${JSON.stringify(data)},\n   modules: {\n${imports}\n  }},`
  })
  return `export const plugins = [\n${plugins.join('\n')}\n]\n`
}

/** Points oclif's imports of its module loader at the bundle's, and serves `auditforge:bundle`. */
function bundlePlugin(contents: string, redirected: Set<string>): EsbuildPlugin {
  const loader = join(root, 'scripts', 'package', 'module-loader.ts')
  return {
    name: 'auditforge-bundle',
    setup(build) {
      build.onResolve({filter: /^auditforge:bundle$/}, () => ({namespace: 'auditforge', path: 'bundle'}))
      build.onLoad({filter: /.*/, namespace: 'auditforge'}, () => ({contents, loader: 'js', resolveDir: root}))
      build.onResolve({filter: /\/module-loader$/}, (args) => {
        if (!args.importer.includes(join('node_modules', '@oclif', 'core', 'lib'))) return undefined
        redirected.add(relative(root, args.importer))
        return {path: loader}
      })
    },
  }
}

async function bundle(): Promise<void> {
  const redirected = new Set<string>()
  const result = await build({
    bundle: true,
    // @oclif/core checks the Node version against its package.json on disk when imported; the
    // Node inside the file is the one it was built with, and there is no package.json to read.
    define: {'process.env.OCLIF_DISABLE_ENGINE_WARNING': '"1"'},
    entryPoints: [join(root, 'scripts', 'package', 'entry.ts')],
    // oclif reads a tsconfig with TypeScript only to run sources in development; not here.
    external: ['typescript'],
    format: 'cjs',
    legalComments: 'none',
    logLevel: 'warning',
    // Readable stack traces: names and lines as written, each module under a comment naming its
    // file. 4.7 MiB instead of 2.4 MiB minified, next to Node's 94 MiB.
    minify: false,
    keepNames: true,
    outfile: script,
    platform: 'node',
    plugins: [bundlePlugin(await bundleModule(), redirected)],
    target: 'node20',
  })
  if (result.errors.length > 0) throw new Error('esbuild failed')
  // oclif loads commands and hooks in three places; each must come from the bundle.
  const expected = ['config/config.js', 'config/plugin.js', 'help/index.js']
  const missing = expected.filter((file) => ![...redirected].some((importer) => importer.endsWith(file)))
  if (missing.length > 0)
    throw new Error(`oclif's module loader was not replaced in ${missing.join(', ')}: has @oclif/core changed?`)
}

async function singleExecutable(script: string, workdir: string): Promise<void> {
  const blob = join(workdir, 'auditforge.blob')
  const seaConfig = join(workdir, 'sea-config.json')
  writeFileSync(
    seaConfig,
    JSON.stringify({disableExperimentalSEAWarning: true, main: script, output: blob, useCodeCache: true}),
  )
  execFileSync(process.execPath, ['--experimental-sea-config', seaConfig], {stdio: ['ignore', 'ignore', 'inherit']})
  rmSync(output, {force: true})
  copyFileSync(process.execPath, output)
  chmodSync(output, 0o755)
  await inject(output, 'NODE_SEA_BLOB', readFileSync(blob), {sentinelFuse: seaFuse})
}

const workdir = mkdtempSync(join(tmpdir(), 'auditforge-package-'))
try {
  await bundle()
  const scriptBytes = statSync(script).size
  await singleExecutable(script, workdir)
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1)
  console.log(
    `${relative(root, output)}: ${mib(statSync(output).size)} MiB (Node ${process.version} ${target} ${mib(statSync(process.execPath).size)} MiB + bundle ${mib(scriptBytes)} MiB), built in ${seconds.toFixed(1)} s`,
  )
} finally {
  rmSync(workdir, {force: true, recursive: true})
}
