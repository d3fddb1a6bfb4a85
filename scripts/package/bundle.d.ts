/**
 * The module scripts/package.ts generates into the single-file bundle: every oclif plugin the
 * installed CLI loads (the CLI itself first), with its package.json fields, its manifest and
 * a lazy import per command and hook module, keyed by the module's path inside the plugin.
 */
declare module 'auditforge:bundle' {
  import type {Interfaces} from '@oclif/core'

  export interface BundledPluginData {
    name: string
    version: string
    type: string
    isRoot: boolean
    pjson: Interfaces.PJSON
    manifest: Interfaces.Manifest
    modules: Record<string, () => Promise<Record<string, unknown>>>
  }

  export const plugins: BundledPluginData[]
}

/** postject's API (its package ships no types): injects a resource into an executable. */
declare module 'postject' {
  export function inject(
    filename: string,
    resourceName: string,
    resourceData: Buffer,
    options?: {machoSegmentName?: string; overwrite?: boolean; sentinelFuse?: string},
  ): Promise<void>
}
