/**
 * vitest globalSetup: one moto_server on a free loopback port for the whole run, stopped
 * afterwards. A missing moto_server fails the run with the install hint.
 */
import type {TestProject} from 'vitest/node'

import {startMoto} from '../../scripts/moto.js'

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const moto = await startMoto()
  project.provide('motoEndpoint', moto.endpoint)
  return moto.stop
}

declare module 'vitest' {
  export interface ProvidedContext {
    motoEndpoint: string
  }
}
