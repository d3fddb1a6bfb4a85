/**
 * The single file's main script (bundled by scripts/package.ts, run by Node's single executable
 * application support). It is bin/run.js without a disk: oclif gets every plugin already loaded
 * from the bundle (package.json fields and manifest as `npm run build` wrote them), so help is
 * answered from the manifest and a command's module, with the AWS SDK behind it, is evaluated
 * only when that command runs.
 */
import {plugins, type BundledPluginData} from 'auditforge:bundle'
import {type Command, Errors, execute, type Interfaces, Plugin, settings} from '@oclif/core'
import {dirname, join} from 'node:path'

/** An oclif plugin whose files are in the bundle: nothing is read from disk to load it. */
class BundledPlugin extends Plugin {
  constructor(
    private readonly data: BundledPluginData,
    root: string,
  ) {
    super({isRoot: data.isRoot, name: data.name, pjson: data.pjson, root, type: data.type})
  }

  override async load(): Promise<void> {
    const {data} = this
    this.type = data.type
    this.isRoot = data.isRoot
    this.root = this.options.root
    this.pjson = data.pjson
    this.name = data.name
    this.alias = data.name
    this.version = data.version
    this.moduleType = 'module'
    this.valid = true
    this.hasManifest = true
    this.manifest = data.manifest
    this.commandIDs = Object.keys(data.manifest.commands)
    this.hooks = Object.fromEntries(
      Object.entries(data.pjson.oclif.hooks ?? {}).map(([event, hooks]) => [
        event,
        [hooks]
          .flat()
          .map((hook) =>
            typeof hook === 'string'
              ? {identifier: 'default', target: hook}
              : {...hook, identifier: hook.identifier ?? 'default'},
          ),
      ]),
    )
    this.commands = Object.entries(data.manifest.commands)
      .map(([id, cached]) => ({
        ...cached,
        load: async () => this.findCommand(id, {must: true}),
        pluginAlias: this.alias,
        pluginType: this.type,
      }))
      .sort((a, b) => a.id.localeCompare(b.id))
  }

  override async findCommand(id: string, opts: {must: true}): Promise<Command.Class>
  override async findCommand(id: string, opts?: {must: boolean}): Promise<Command.Class | undefined>
  override async findCommand(id: string, opts: {must?: boolean} = {}): Promise<Command.Class | undefined> {
    const cached = this.manifest.commands[id]
    const module = cached?.relativePath && this.data.modules[cached.relativePath.join('/')]
    if (!module) {
      if (opts.must) Errors.error(`command ${id} not found`)
      return undefined
    }
    const exports = await module()
    const found = [exports.default, ...Object.values(exports)].find(
      (value) => typeof (value as Command.Class | undefined)?.run === 'function',
    )
    const command = found as Command.Class
    command.id = id
    command.plugin = this
    return command
  }
}

async function main(): Promise<void> {
  // No TypeScript sources beside a single file: oclif must not look for a tsconfig.
  settings.enableAutoTranspile = false
  const root = dirname(process.execPath)
  const loaded = new Map<string, Interfaces.Plugin>()
  for (const data of plugins) {
    const plugin = new BundledPlugin(data, data.isRoot ? root : join(root, '.bundled', data.name))
    await plugin.load()
    loaded.set(plugin.name, plugin)
  }
  const rootPlugin = plugins.find((data) => data.isRoot)!
  await execute({args: process.argv.slice(2), loadOptions: {pjson: rootPlugin.pjson, plugins: loaded, root}})
  // A finished command exits now: an SDK timer left pending must not hold the shell.
  process.exit()
}

void main()
