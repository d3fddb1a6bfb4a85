/**
 * "Did you mean …?": the command and flag an operator most likely meant, and no guess when
 * nothing is close.
 */
import {describe, expect, it} from 'vitest'

import {closestCommand, closestFlag, closestMatch} from '../../src/lib/suggestions.js'

const commands = [
  'audit-log:export',
  'bucket:decommission',
  'bucket:provision',
  'bucket:verify',
  'doctor',
  'engagement:create',
  'engagement:delete',
  'engagement:list',
  'engagement:show',
  'migrate',
  'migrate:rollback',
  'autocomplete',
  'help',
]
const topics = ['audit-log', 'bucket', 'engagement', 'migrate']

describe('closestCommand', () => {
  it.each([
    ['engagment:list', 'engagement:list'],
    ['engagement:lst', 'engagement:list'],
    ['engagment', 'engagement'],
    ['migrat', 'migrate'],
    ['bucket:provison:eng-1', 'bucket:provision'],
    ['bucket:provison:metis-af-abcdef123456-123456789012', 'bucket:provision'],
    ['verify', 'bucket:verify'],
    ['rollback', 'migrate:rollback'],
    ['docter', 'doctor'],
  ])('%s → %s', (typed, meant) => {
    expect(closestCommand(typed, commands, topics)).toBe(meant)
  })

  it('guesses nothing when nothing is close', () => {
    expect(closestCommand('xyzzy', commands, topics)).toBeUndefined()
    expect(closestCommand('terraform:apply', commands, topics)).toBeUndefined()
  })
})

describe('closestFlag', () => {
  const flags = {
    json: {},
    'shared-bucket': {},
    region: {},
    standard: {},
    name: {},
    isolated: {allowNo: true},
    'dry-run': {},
  }

  it.each([
    ['--jsn', '--json'],
    ['--standrd', '--standard'],
    ['--nme', '--name'],
    ['--regon=eu-west-1', '--region'],
    ['--shared-buckt', '--shared-bucket'],
    ['--no-isolatd', '--no-isolated'],
    ['--isolatd', '--isolated'],
  ])('%s → %s', (typed, meant) => {
    expect(closestFlag(typed, flags)).toBe(meant)
  })

  it('guesses nothing for a flag far from every one, or an empty one', () => {
    expect(closestFlag('--xyzzy', flags)).toBeUndefined()
    expect(closestFlag('--', flags)).toBeUndefined()
    expect(closestFlag('--no-json', flags)).toBeUndefined()
  })
})

describe('closestMatch', () => {
  it('allows one edit for short words and a third of the length for longer ones; ties keep the first', () => {
    const candidates = ['ab', 'abcdefghi'].map((name) => ({name, value: name}))
    expect(closestMatch('ax', candidates)).toEqual({value: 'ab', distance: 1})
    expect(closestMatch('xy', candidates)).toBeUndefined()
    expect(closestMatch('abcdefgzz', candidates)).toEqual({value: 'abcdefghi', distance: 2})
    expect(closestMatch('abcdxyzzz', candidates)).toBeUndefined()
    expect(closestMatch('Ab', candidates)).toEqual({value: 'ab', distance: 0})
    const tied = ['cat', 'cut'].map((name) => ({name, value: name}))
    expect(closestMatch('cbt', tied)).toEqual({value: 'cat', distance: 1})
  })
})
