import {PutObjectCommand, S3Client} from '@aws-sdk/client-s3'
import {mockClient} from 'aws-sdk-client-mock'
import 'aws-sdk-client-mock-vitest/extend'
import {beforeEach, describe, expect, it} from 'vitest'

import {type PlannedWrite, writeConditionally} from '../../../src/lib/s3/index.js'
import {s3Error, systemError, testContext} from '../fixtures.js'

const s3Mock = mockClient(S3Client)
const options = {bucket: 'b', action: 'Writing the thing', subject: 'The thing s3://b/k', sleep: async () => {}}

/** A stored object the plan reads: `landed` says whether our write is in it. */
function world() {
  const state = {landed: false, etag: '"1"'}
  const plan = async (): Promise<PlannedWrite | undefined> =>
    state.landed ? undefined : {key: 'k', body: 'new', contentType: 'text/plain', ifMatch: state.etag}
  return {state, plan}
}

beforeEach(() => {
  s3Mock.reset()
})

describe('writeConditionally', () => {
  it('writes with If-Match the ETag read, or If-None-Match: * for a new object', async () => {
    s3Mock.on(PutObjectCommand).resolves({})
    const s3 = testContext().s3
    await writeConditionally(s3, options, async () => ({
      key: 'k',
      body: 'x',
      contentType: 'text/plain',
      ifMatch: '"7"',
    }))
    await writeConditionally(s3, options, async () => ({key: 'k', body: 'x', contentType: 'text/plain'}))
    const inputs = s3Mock.commandCalls(PutObjectCommand).map((call) => call.args[0].input)
    expect(inputs[0]).toMatchObject({IfMatch: '"7"'})
    expect(inputs[0].IfNoneMatch).toBeUndefined()
    expect(inputs[1]).toMatchObject({IfNoneMatch: '*'})
    expect(inputs[1].IfMatch).toBeUndefined()
  })

  it.each([
    ['412 PreconditionFailed', s3Error('PreconditionFailed', 412)],
    ['409 ConditionalRequestConflict', s3Error('ConditionalRequestConflict', 409)],
  ])('re-plans after a %s and gives up with exit 6 when it never stops', async (_what, conflict) => {
    s3Mock.on(PutObjectCommand).rejects(conflict)
    const {plan} = world()
    await expect(writeConditionally(testContext().s3, {...options, maxAttempts: 4}, plan)).rejects.toMatchObject({
      exit: 6,
      code: 'conflict',
      message: expect.stringContaining('The thing s3://b/k kept changing'),
    })
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 4)
  })

  it('a lost answer whose write landed counts as written, without writing again', async () => {
    const {state, plan} = world()
    s3Mock.on(PutObjectCommand).callsFake(() => {
      state.landed = true
      throw systemError('ECONNRESET', 'socket hang up')
    })
    await expect(writeConditionally(testContext().s3, options, plan)).resolves.toMatchObject({outcome: 'written'})
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 1)
  })

  it('a 5xx whose write did not land is retried, and succeeds', async () => {
    const {plan} = world()
    s3Mock.on(PutObjectCommand).rejectsOnce(s3Error('InternalError', 500)).resolves({})
    await expect(writeConditionally(testContext().s3, options, plan)).resolves.toMatchObject({outcome: 'written'})
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 2)
  })

  it('stops after three uncertain outcomes that did not land: the transport error, exit 1, not exit 6', async () => {
    const {plan} = world()
    s3Mock.on(PutObjectCommand).rejects(systemError('ETIMEDOUT', 'timed out'))
    await expect(writeConditionally(testContext().s3, options, plan)).rejects.toMatchObject({exit: 1, code: 'network'})
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 3)
  })

  it('any other failure is raised at once, naming the action, bucket and key', async () => {
    const {plan} = world()
    s3Mock.on(PutObjectCommand).rejects(s3Error('AccessDenied', 403))
    await expect(writeConditionally(testContext().s3, options, plan)).rejects.toMatchObject({
      code: 'access_denied',
      message: expect.stringContaining('Writing the thing s3://b/k'),
    })
    expect(s3Mock).toHaveReceivedCommandTimes(PutObjectCommand, 1)
  })

  it('nothing to write is no write at all', async () => {
    await expect(writeConditionally(testContext().s3, options, async () => undefined)).resolves.toEqual({
      outcome: 'in_place',
    })
    expect(s3Mock).not.toHaveReceivedCommand(PutObjectCommand)
  })
})
