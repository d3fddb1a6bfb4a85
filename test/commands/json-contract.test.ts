/**
 * The --json contract, checked against the built CLI: a document of every command (and the error
 * document, for exit 2, 3 and 5) is validated against its checked-in JSON Schema (schemas/,
 * generated from src/results), so the schema and the behaviour cannot drift: the documents of
 * success and of "reported, then failed" alike (a drifted or missing bucket, a blocked
 * decommission, a refused purge, a failed verification). `status` agrees with the exit code,
 * `error` is null exactly when it is 0, an error document carries the suggestion, and keys are
 * snake_case. The flows run side by side, each on a shared bucket of its own, to stay fast.
 */
import {mkdtempSync, readFileSync, readdirSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {DeleteBucketCommand, PutBucketVersioningCommand} from '@aws-sdk/client-s3'
import {Ajv, type ValidateFunction} from 'ajv'
import {describe, expect, it} from 'vitest'

import {runJson} from '../helpers/cli.js'
import {
  auditShardKey,
  expectedBucketName,
  makeManagedBucket,
  putIndex,
  putRaw,
  randomEngagementId,
  seedRecord,
} from '../helpers/commands.js'
import {createSharedBucket, testS3} from '../helpers/s3.js'

const schemasDir = fileURLToPath(new URL('../../schemas/', import.meta.url))
const manifest = JSON.parse(
  readFileSync(fileURLToPath(new URL('../../oclif.manifest.json', import.meta.url)), 'utf8'),
) as {commands: Record<string, {pluginName?: string}>}

/** The commands of auditforge itself (not the plugins'), as typed: `migrate purge-source`. */
const ownCommands = Object.keys(manifest.commands)
  .filter(
    (id) => manifest.commands[id].pluginName === undefined || manifest.commands[id].pluginName === 'auditforge-cli',
  )
  .map((id) => id.replace(/:/g, ' '))

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

/** Every document validated, by the schema it was validated against; every key is checked for snake_case at the end. */
const validated = new Map<string, unknown[]>()

/** Asserts the document is valid against the command's schema, naming what is not. */
function expectValid(command: string, document: unknown): void {
  const validate = schemaOf(command)
  const valid = validate(document)
  expect(
    valid,
    `${command}: ${ajv.errorsText(validate.errors, {separator: '\n'})}\n${JSON.stringify(document, null, 2)}`,
  ).toBe(true)
  validated.set(command, [...(validated.get(command) ?? []), document])
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

/**
 * A runner for one flow: runs `command args --json` with the flow's environment, checks the exit
 * code and validates the document against the command's schema.
 */
function runnerFor(env: Record<string, string>) {
  return async <T>(command: string, args: string[], exit = 0) => {
    const result = await runJson<T>([...command.split(' '), ...args], {env})
    expect(result.code, `${command} ${args.join(' ')}: ${result.stderr}`).toBe(exit)
    expectValid(command, result.json)
    return result
  }
}

/** Runs a command that fails before it has a result: its document is the error document alone. */
async function expectErrorDocument(args: string[], env: Record<string, string>, exit: number) {
  const result = await runJson<{error: {code: string; exit: number; suggestion: string | null}}>(args, {env})
  expect(result.code, result.stderr).toBe(exit)
  expectValid('error', result.json)
  expect(result.json.error.exit).toBe(exit)
  return result
}

describe('the --json contract', () => {
  it('has a schema for every command, and nothing else but the error document', () => {
    const commands = ownCommands.map((id) => `${id.replace(/ /g, '-')}.json`)
    expect(commands.length).toBeGreaterThan(10)
    expect(readdirSync(schemasDir).sort()).toEqual([...commands, 'error.json'].sort())
    const strict = new Ajv({allErrors: true, strict: true})
    for (const file of readdirSync(schemasDir))
      expect(() => strict.compile(JSON.parse(readFileSync(`${schemasDir}${file}`, 'utf8'))), file).not.toThrow()
  })
})

describe.concurrent('every command prints documents that match its schema', () => {
  it('engagement, bucket verify, audit-log, doctor and engagement delete documents', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'contract')
    const env = {AUDITFORGE_BUCKET: shared}
    const run = runnerFor(env)

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

    // A bucket that does not exist is an entry of its own, and the exit code is 3.
    const missing = expectedBucketName(randomEngagementId())
    const notFound = await run<Reported & {buckets: {bucket: string; error: unknown}[]}>('bucket verify', [missing], 3)
    expectStatusMatchesExit(notFound, 3, 'not_found')
    expect(notFound.json.buckets).toMatchObject([{bucket: missing, controls: [], error: {code: 'not_found'}}])

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
  })

  it('bucket decommission of a bucket no record points at any more (--keep-data): dry run, then for real', async () => {
    const shared = await createSharedBucket(testS3(), 'contract')
    const run = runnerFor({AUDITFORGE_BUCKET: shared})
    const kept = await run<{engagement_id: string; source_bucket: string}>('engagement create', [
      '--name',
      'Kept',
      '--isolated',
    ])
    await run('engagement delete', [kept.json.engagement_id, '--yes', '--keep-data'])
    const clear = await run<Reported & {object_versions: number | null}>('bucket decommission', [
      kept.json.source_bucket,
      '--dry-run',
    ])
    expectStatusMatchesExit(clear, 0, 'ok')
    expect(clear.json.object_versions).toBe(1)
    const decommissioned = await run<{uploads_aborted: number; trail_selector: unknown}>('bucket decommission', [
      kept.json.source_bucket,
      '--yes',
    ])
    expect(decommissioned.json).toMatchObject({dry_run: false, uploads_aborted: 0, trail_selector: null})
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

  it('migrate --execute, --verify-only, --reconcile, evidence, purge-source (dry run, refusal, --execute), rollback and batch-role', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'contract')
    const [purged, rolledBack] = [randomEngagementId(), randomEngagementId()]
    await putIndex(s3, shared, {engagements: [seedRecord(purged), seedRecord(rolledBack)]})
    // One version a key: no history for purge-source to weigh against the switch's second.
    const key = (id: string, name: string) => `auditforge/engagements/${id}/${name}`
    await Promise.all(
      [purged, rolledBack].flatMap((id) => [
        putRaw(s3, shared, key(id, 'findings.json'), '{}'),
        putRaw(s3, shared, key(id, 'source/a.pdf'), 'a'),
      ]),
    )
    const run = runnerFor({AUDITFORGE_BUCKET: shared})

    const executed = await run<Reported & {mode: string; totals: {copied: number}}>('migrate', ['--execute', '--yes'])
    expectStatusMatchesExit(executed, 0, 'ok')
    expect(executed.json).toMatchObject({mode: 'execute', totals: {copied: 4}})

    const verified = await run<Reported & {engagements: {status: string}[]}>('migrate', [
      '--verify-only',
      '--engagement-id',
      purged,
    ])
    expectStatusMatchesExit(verified, 0, 'ok')
    expect(verified.json.engagements[0].status).toBe('verified')

    await putRaw(s3, shared, key(purged, 'source/late.pdf'), 'written after the switch')
    const reconciled = await run<Reported & {engagements: {reconciled: number}[]; totals: {copied: number}}>(
      'migrate',
      ['--reconcile', '--engagement-id', purged, '--yes'],
    )
    expectStatusMatchesExit(reconciled, 0, 'ok')
    expect(reconciled.json.engagements[0].reconciled).toBe(1)
    expect(reconciled.json.totals.copied).toBe(1)

    await run('migrate evidence', [purged])

    // Refused (too young: --min-age is 30 days by default), in the dry run and with --execute: the full document.
    const dry = await run<Reported & {mode: string}>('migrate purge-source', ['--engagement-id', purged], 5)
    expectStatusMatchesExit(dry, 5, 'too_young')
    const refused = await run<Reported & {mode: string}>(
      'migrate purge-source',
      ['--engagement-id', purged, '--execute', '--yes'],
      5,
    )
    expectStatusMatchesExit(refused, 5, 'too_young')
    expect(refused.json.mode).toBe('execute')
    const done = await run<Reported & {purge: unknown}>('migrate purge-source', [
      '--engagement-id',
      purged,
      '--min-age',
      '0',
      '--execute',
      '--yes',
    ])
    expectStatusMatchesExit(done, 0, 'purged')
    expect(done.json.purge).not.toBeNull()

    const rollback = await run<{previous_source_bucket: string | null}>('migrate rollback', [
      '--engagement-id',
      rolledBack,
      '--yes',
    ])
    expect(rollback.json.previous_source_bucket).toBe(expectedBucketName(rolledBack))

    await run('migrate batch-role', [])
  })

  it('bucket provision, a blocked decommission (dry run and real), audit-log export --output and the empty export', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'contract')
    const [provisioned, logged, silent, unbound] = [
      randomEngagementId(),
      randomEngagementId(),
      randomEngagementId(),
      randomEngagementId(),
    ]
    await putIndex(s3, shared, {engagements: [provisioned, logged, silent].map((id) => seedRecord(id))})
    await putRaw(s3, shared, auditShardKey(logged), '{"event":"engagement.created","seq":1}\n')
    const run = runnerFor({AUDITFORGE_BUCKET: shared})

    const provision = await run<{bucket: string; created: boolean}>('bucket provision', [provisioned])
    expect(provision.json).toMatchObject({bucket: expectedBucketName(provisioned), created: true})

    // Bound to no index: the preflight stops at index-binding, and the document says so, dry run or not.
    const bucket = await makeManagedBucket(s3, unbound)
    for (const flag of ['--dry-run', '--yes']) {
      const blocked = await run<Reported & {preflight: {check: string; ok: boolean}[]}>(
        'bucket decommission',
        [bucket, flag],
        5,
      )
      expectStatusMatchesExit(blocked, 5, 'refused')
      expect(blocked.json.preflight.at(-1)).toMatchObject({check: 'index-binding', ok: false})
    }
    // Left behind, an unbound managed bucket would show in doctor's report of every later test.
    await s3.send(new DeleteBucketCommand({Bucket: bucket}))

    const output = join(mkdtempSync(join(tmpdir(), 'contract-')), 'audit-log.jsonl')
    const toFile = await run<{output: string; event_count: number}>('audit-log export', [logged, '--output', output])
    expect(toFile.json).toMatchObject({output, event_count: 1})
    const empty = await run<{empty: boolean; signed_url: string | null}>('audit-log export', [
      silent,
      '--delivery',
      'signed_url',
    ])
    expect(empty.json).toMatchObject({empty: true, signed_url: null})
  })

  it('records are printed as the index stores them, and a sparse one (only engagement_id and name) matches the schema', async () => {
    const s3 = testS3()
    const shared = await createSharedBucket(s3, 'contract')
    const [full, sparse] = [randomEngagementId(), randomEngagementId()]
    await putIndex(s3, shared, {engagements: [seedRecord(full), {engagement_id: sparse, name: 'Platform-made'}]})
    const run = runnerFor({AUDITFORGE_BUCKET: shared})
    const listed = await run<{engagements: unknown[]}>('engagement list', [])
    expect(listed.json.engagements).toEqual([seedRecord(full), {engagement_id: sparse, name: 'Platform-made'}])
    const shown = await run('engagement show', [sparse])
    expect(shown.json).toEqual({engagement_id: sparse, name: 'Platform-made'})
  })

  it('an error document (exit 2, 3, 5) matches error.json and carries the suggestion', async () => {
    const shared = await createSharedBucket(testS3(), 'contract')
    const env = {AUDITFORGE_BUCKET: shared}
    const [usage, unknown, refused] = await Promise.all([
      expectErrorDocument(['bucket', 'verify'], env, 2),
      expectErrorDocument(['engagement', 'show', randomEngagementId()], env, 3),
      expectErrorDocument(['engagement', 'delete', 'eng-abc'], env, 5),
    ])
    expect(usage.json.error.code).toBe('invalid_input')
    expect(unknown.json.error.code).toBe('not_found')
    expect(refused.json.error.suggestion).toEqual(expect.stringContaining('--yes'))
  })
})

describe('the documents, all together', () => {
  it('cover every command and the error document, and every key is snake_case', () => {
    expect([...validated.keys()].sort()).toEqual([...ownCommands, 'error'].sort())
    // The IAM policy documents of `migrate batch-role` keep AWS's own keys (Version, Statement, ...).
    const policies = validated.get('migrate batch-role')!
    for (const key of keysOf([...validated].filter(([command]) => command !== 'migrate batch-role')))
      expect(key, 'a --json key').toMatch(snakeCase)
    for (const key of policies.flatMap((document) => Object.keys(document as object)))
      expect(key, 'a --json key').toMatch(snakeCase)
  })
})
