/**
 * vitest globalSetup: one moto_server on a free loopback port for the whole run, and the loopback
 * S3 Batch Operations job service in front of it (test/fixtures/batch-job-service.ts), both
 * stopped afterwards. A missing moto_server fails the run with the install hint.
 */
import type {TestProject} from 'vitest/node'

import {startMoto} from '../../scripts/moto.js'
import {startBatchJobService} from '../fixtures/batch-job-service.js'

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const moto = await startMoto()
  project.provide('motoEndpoint', moto.endpoint)
  const batch = await startBatchJobService(moto.endpoint)
  project.provide('batchEndpoint', batch.endpoint)
  return async () => {
    await batch.stop()
    await moto.stop()
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    motoEndpoint: string
    batchEndpoint: string
  }
}
