/**
 * A mistyped command at a terminal (a real pty): @oclif/plugin-not-found asks "Did you mean
 * engagement list?" and runs it on yes; no is a usage error. With CI=true the same terminal gets
 * the suggestion printed and no question.
 */
import {describe, expect, it} from 'vitest'

import {putIndex, randomEngagementId, seedRecord, seedS3} from '../helpers/commands.js'
import {runInPty} from '../helpers/pty.js'
import {createSharedBucket} from '../helpers/s3.js'

const question = /Did you mean .*engagement list.*\?/

describe('did you mean, in a terminal', () => {
  it('asks, and on yes runs the command meant', async () => {
    const s3 = seedS3()
    const bucket = await createSharedBucket(s3, 'typo')
    const id = randomEngagementId()
    await putIndex(s3, bucket, {engagements: [seedRecord(id)]})
    const result = await runInPty(['engagment', 'list', '--shared-bucket', bucket], {
      steps: [{waitFor: /\(Y\/n\)/, send: 'y\r'}],
      timeout: 30_000,
    })
    expect(result.code).toBe(0)
    expect(result.screen).toContain('engagment list is not an auditforge command.')
    expect(result.screen).not.toContain('not a auditforge')
    expect(result.screen).toMatch(question)
    expect(result.screen).not.toContain('engagment:list')
    expect(result.screen).toContain(id)
  })

  it('on no, points at help and exits 2', async () => {
    const result = await runInPty(['engagment', 'list'], {steps: [{waitFor: /\(Y\/n\)/, send: 'n\r'}], timeout: 30_000})
    expect(result.code).toBe(2)
    expect(result.screen).toMatch(question)
    expect(result.screen).toMatch(/Error:\S* Nothing was run\r?\n/)
    expect(result.screen).toContain('Run auditforge help for a list of commands.')
  })

  it('with CI=true on a terminal: the suggestion, no question, exit 2 at once', async () => {
    const started = Date.now()
    const result = await runInPty(['engagment', 'list'], {env: {CI: 'true'}, timeout: 20_000})
    expect(result.code).toBe(2)
    expect(result.screen).toContain('engagment list is not an auditforge command; did you mean engagement list?')
    expect(result.screen).not.toMatch(/\(Y\/n\)/)
    expect(Date.now() - started).toBeLessThan(8_000)
  })

  it('with --json on a terminal: no question (it would be drawn into the document), the error document, exit 2', async () => {
    const result = await runInPty(['engagment', 'list', '--json'], {timeout: 20_000})
    expect(result.code).toBe(2)
    expect(result.screen).not.toMatch(/\(Y\/n\)/)
    const document = JSON.parse(result.screen.slice(result.screen.indexOf('{'))) as {error: {message: string}}
    expect(document.error.message).toBe('engagment list is not an auditforge command; did you mean engagement list?')
  })
})
