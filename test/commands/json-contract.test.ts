/**
 * The --json contract, checked against the built CLI: real documents of several commands are
 * validated against their checked-in JSON Schemas (schemas/, generated from src/results), so the
 * schema and the behaviour cannot drift; `status` agrees with the exit code, `error` is null
 * exactly when it is 0, an error document carries the suggestion, and keys are snake_case.
 */
import {readFileSync, readdirSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {PutBucketVersioningCommand} from '@aws-sdk/client-s3'
import {Ajv, type ValidateFunction} from 'ajv'
import {describe, expect, it} from 'vitest'

import {runJson} from '../helpers/cli.js'
import {putIndex, randomEngagementId, seedRecord} from '../helpers/commands.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

const schemasDir = fileURLToPath(new URL('../../schemas/', import.meta.url))
const manifest = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../oclif.manifest.json', import.meta.url)), 'utf8'),
) as {commands: Record<string, {pluginName?: string}>}

const ajv = new Ajv({allErrors: true, strict: true})
const validators = new Map<string, ValidateFunction>()

/** The validator of a command's schema (`engagement create` → schemas/engagement-create.json). */
function schemaOf(command: string): ValidateFunction {
  let validate = validators.get(command)
  if (!validate) {
    validate = ajv.compile(JSON.parse(readFileSync(`${schemasDir}${command.replace(/ /g, '-')}.json`, 'utf8')))
    validators.set(command, validate)
  }
  return validate
}

/** Asserts the document is valid against the command's schema, naming what is not. */
function expectValid(command: string, document: unknown): void {
  const validate = schemaOf(command)
  const valid = validate(document)
  expect(
    valid,
    `${command}: ${ajv.errorsText(validate.errors, {separator: '\n'})}\n${JSON.stringify(document, null, 2)}`,
  ).toBe(true)
}

/** Every key of every object in the document, at any depth. */
function keysOf(value: unknown, keys = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const item of value) keysOf(item, keys)
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      keys.add(key)
      keysOf(inner, keys)
    }
  }
  return keys
}

const snakeCase = /^[a-z0-9]+(?:_[a-z0-9]+)*$/

interface Reported {
  status: string
  error: {code: string; message: string; exit: number; suggestion: string | null} | null
}

/** `status` and `error` agree with the exit code: "ok"/null exactly when it is 0. */
function expectStatusMatchesExit(result: {code: number | null; json: Reported}, exit: number, status: string): void {
  expect(result.code).toBe(exit)
  expect(result.json.status).toBe(status)
  if (exit === 0) expect(result.json.error).toBeNull()
  else expect(result.json.error).toMatchObject({code: status, exit})
}

describe('the --json contract', () => {
  it('has a schema for every command, and nothing else but the error document', () => {
    const commands = Object.keys(manifest.commands)
      .filter(
        (id) => manifest.commands[id].pluginName === undefined || manifest.commands[id].pluginName === 'auditforge-cli',
      )
      .map((id) => `${id.replace(/:/g, '-')}.json`)
    expect(commands.length).toBeGreaterThan(10)
    expect(readdirSync(schemasDir).sort()).toEqual([...commands, 'error.json'].sort())
    const strict = new Ajv({allErrors: true, strict: true})
    for (const file of readdirSync(schemasDir))
      expect(() => strict.compile(JSON.parse(readFileSync(`${schemasDir}${file}`, 'utf8'))), file).not.toThrow()
  })

  it('engagement, bucket, audit-log and doctor documents match their schemas; keys are snake_case', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'contract')
    const env = {AUDITFORGE_BUCKET: shared}
    const documents: unknown[] = []
    const run = async <T>(command: string, args: string[], exit = 0) => {
      const result = await runJson<T>([...command.split(' '), ...args], {env})
      expect(result.code, `${command}: ${result.stderr}`).toBe(exit)
      expectValid(command, result.json)
      documents.push(result.json)
      return result
    }

    const isolated = await run<{engagement_id: string; source_bucket: string}>('engagement create', [
      '--name',
      'Contract',
      '--isolated',
    ])
    const inShared = await run<{engagement_id: string}>('engagement create', ['--name', 'Shared one', '--no-isolated'])
    await run('engagement list', [])
    await run('engagement show', [isolated.json.engagement_id])
    const bucket = isolated.json.source_bucket

    // moto is plain http: the TLS-only policy is skipped, which is neither ok nor failed.
    const verified = await run<
      Reported & {
        buckets: {
          engagement_id: string
          controls: {control: string; status: string; ok: boolean | null; standard_ids: string[] | null}[]
        }[]
      }
    >('bucket verify', [bucket])
    expectStatusMatchesExit(verified, 0, 'ok')
    expect(verified.json.buckets[0].engagement_id).toBe(isolated.json.engagement_id)
    const tls = verified.json.buckets[0].controls.find((control) => control.control === 'tls-only')
    expect(tls).toMatchObject({status: 'skipped', ok: null, standard_ids: null})

    await s3.send(new PutBucketVersioningCommand({Bucket: bucket, VersioningConfiguration: {Status: 'Suspended'}}))
    const drifted = await run<Reported>('bucket verify', [bucket], 4)
    expectStatusMatchesExit(drifted, 4, 'drift')
    expect(drifted.json.error!.suggestion).toContain('--fix')

    const doctor = await run<Reported & {ok: boolean}>('doctor', [], 4)
    expectStatusMatchesExit(doctor, 4, 'checks_failed')
    expect(doctor.json.ok).toBe(false)

    const exported = await run<{
      expires_in: number
      requested_expires_in: number
      expires_at: string
      warning: string | null
    }>('audit-log export', [isolated.json.engagement_id, '--delivery', 'signed_url', '--expires-in', '900'])
    // moto's static credentials do not expire: the URL gets all it asked for.
    expect(exported.json).toMatchObject({expires_in: 900, requested_expires_in: 900, warning: null})

    const deletedShared = await run<{bucket: string | null; trail_selector: unknown}>('engagement delete', [
      inShared.json.engagement_id,
      '--yes',
    ])
    expect(deletedShared.json).toMatchObject({
      bucket: null,
      trail_selector: null,
      cleanup_error: null,
      retry_command: null,
    })
    const deletedIsolated = await run<{bucket: string | null}>('engagement delete', [
      isolated.json.engagement_id,
      '--yes',
    ])
    expect(deletedIsolated.json.bucket).toBe('decommissioned')

    // A bucket no record points at any more (--keep-data), decommissioned: dry run, then for real.
    const kept = await run<{engagement_id: string; source_bucket: string}>('engagement create', [
      '--name',
      'Kept',
      '--isolated',
    ])
    await run('engagement delete', [kept.json.engagement_id, '--yes', '--keep-data'])
    await run('bucket decommission', [kept.json.source_bucket, '--dry-run'])
    const decommissioned = await run<{uploads_aborted: number; trail_selector: unknown}>('bucket decommission', [
      kept.json.source_bucket,
      '--yes',
    ])
    expect(decommissioned.json).toMatchObject({dry_run: false, uploads_aborted: 0, trail_selector: null})

    for (const key of keysOf(documents)) expect(key, 'a --json key').toMatch(snakeCase)
  })

  it('migrate: a plan and a failed verification match the schema, with structured differences and status beside exit 4', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'contract')
    const id = randomEngagementId()
    await putIndex(s3, shared, {engagements: [seedRecord(id)]})
    const env = {AUDITFORGE_BUCKET: shared}

    const plan = await runJson<Reported>(['migrate'], {env})
    expectValid('migrate', plan.json)
    expectStatusMatchesExit(plan, 0, 'ok')

    const verify = await runJson<Reported & {engagements: {differences: unknown[]; unlisted_differences: number}[]}>(
      ['migrate', '--verify-only', '--engagement-id', id],
      {env},
    )
    expectValid('migrate', verify.json)
    expectStatusMatchesExit(verify, 4, 'verification_failed')
    expect(verify.json.engagements[0].differences).toEqual([
      {key: null, kind: 'not_migrated', source: null, target: null, detail: 'source_bucket is empty'},
    ])
    expect(verify.json.engagements[0].unlisted_differences).toBe(0)
    for (const key of keysOf(verify.json)) expect(key).toMatch(snakeCase)
  })

  it('records are printed as the index stores them, and a sparse one (only engagement_id and name) matches the schema', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'contract')
    const [full, sparse] = [randomEngagementId(), randomEngagementId()]
    await putIndex(s3, shared, {engagements: [seedRecord(full), {engagement_id: sparse, name: 'Platform-made'}]})
    const env = {AUDITFORGE_BUCKET: shared}
    const listed = await runJson<{engagements: unknown[]}>(['engagement', 'list'], {env})
    expect(listed.code, listed.stderr).toBe(0)
    expectValid('engagement list', listed.json)
    expect(listed.json.engagements).toEqual([seedRecord(full), {engagement_id: sparse, name: 'Platform-made'}])
    const shown = await runJson(['engagement', 'show', sparse], {env})
    expect(shown.code, shown.stderr).toBe(0)
    expectValid('engagement show', shown.json)
    expect(shown.json).toEqual({engagement_id: sparse, name: 'Platform-made'})
  })

  it('an error document matches error.json and carries the suggestion', async () => {
    const shared = await createSharedBucket(testS3(), 'contract')
    const result = await runJson<{error: {suggestion: string | null}}>(['bucket', 'verify'], {
      env: {AUDITFORGE_BUCKET: shared},
    })
    expect(result.code).toBe(2)
    const validate = schemaOf('error')
    expect(validate(result.json), ajv.errorsText(validate.errors)).toBe(true)

    const refused = await runJson<{error: {code: string; suggestion: string | null}}>(
      ['engagement', 'delete', 'eng-abc'],
      {env: {AUDITFORGE_BUCKET: shared}},
    )
    expect(refused.code).toBe(5)
    expect(validate(refused.json), ajv.errorsText(validate.errors)).toBe(true)
    expect(refused.json.error.suggestion).toEqual(expect.stringContaining('--yes'))
  })
})
