/**
 * Calling the library directly against moto (tests of src/lib that need a real server): an
 * AwsContext for the test run's moto, and a hook into a client's calls to stage a race.
 */
import type {S3Client} from '@aws-sdk/client-s3'
import {inject} from 'vitest'

import type {AwsContext} from '../../src/lib/aws.js'
import {resolveSettings} from '../../src/lib/config.js'
import {motoAccountId, testS3} from './s3.js'

/** The library's context for moto, with this shared bucket; `s3` may carry hooks. */
export function motoContext(sharedBucket: string, s3: S3Client = testS3()): AwsContext {
  return {
    s3,
    settings: resolveSettings({'shared-bucket': sharedBucket}, {AWS_ENDPOINT_URL: inject('motoEndpoint')}),
    accountId: async () => motoAccountId,
    callerArn: async () => `arn:aws:iam::${motoAccountId}:user/library-test`,
  }
}

/** Runs `hook` once, before the n-th call of the named command on this client goes out. */
export function beforeCall(s3: S3Client, commandName: string, n: number, hook: () => Promise<void>): void {
  let calls = 0
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === commandName && ++calls === n) await hook()
      return next(args)
    },
    {step: 'initialize', name: `before-${commandName}-${n}-${Math.random()}`},
  )
}
