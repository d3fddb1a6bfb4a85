/**
 * `migrate --engine local|batch|auto`, `--role-arn` and `--report-bucket`, resolved flag >
 * environment > default and validated before any AWS call (exit 2 on a bad value or a bad
 * combination).
 */
import {invalidInput} from '../../errors.js'
import {validateBucketName} from '../../layout.js'

export type EngineChoice = 'local' | 'batch' | 'auto'
export const engineChoices: readonly EngineChoice[] = ['local', 'batch', 'auto']

export interface EngineFlags {
  engine?: string
  'role-arn'?: string
  'report-bucket'?: string
  /** Whether the run copies at all (--execute): the engine is about nothing else. */
  execute: boolean
}

export interface ResolvedEngine {
  engine: EngineChoice
  /** Set for `batch` and for `auto` with a role; `auto` without one is the local engine. */
  roleArn?: string
  reportBucket?: string
  /** `auto` without a role: what to tell the operator. */
  note?: string
  /** `auto`: the objects threshold, when AUDITFORGE_BATCH_AUTO_OBJECTS changes it. */
  autoObjects?: number
}

const roleArnPattern = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/

/** The engine a `migrate` run copies with; see the module comment. */
export function resolveEngine(
  flags: EngineFlags,
  env: Record<string, string | undefined> = process.env,
): ResolvedEngine {
  const engine = (flags.engine ?? 'local') as EngineChoice
  if (!engineChoices.includes(engine))
    throw invalidInput(`Invalid --engine ${JSON.stringify(flags.engine)}: expected local, batch or auto`)
  const roleFlag = flags['role-arn']?.trim() || undefined
  const reportBucket = flags['report-bucket']?.trim() || undefined
  if (!flags.execute && (flags.engine !== undefined || roleFlag || reportBucket)) {
    throw invalidInput('--engine, --role-arn and --report-bucket choose how --execute copies: use them with --execute')
  }
  if (engine === 'local' && (roleFlag || reportBucket)) {
    throw invalidInput(
      '--role-arn and --report-bucket are for --engine batch or auto',
      'Add --engine batch (or auto), or leave them out.',
    )
  }
  const roleArn = roleFlag ?? (env.AUDITFORGE_BATCH_ROLE_ARN?.trim() || undefined)
  if (roleArn !== undefined && !roleArnPattern.test(roleArn)) {
    throw invalidInput(
      `Invalid Batch Operations role ${JSON.stringify(roleArn)} (${roleFlag ? '--role-arn' : 'AUDITFORGE_BATCH_ROLE_ARN'}): expected an IAM role ARN, arn:aws:iam::<account>:role/<name>`,
    )
  }
  if (reportBucket !== undefined) validateBucketName(reportBucket, '--report-bucket')
  const autoObjects = autoObjectsFrom(env)
  if (engine === 'local') return {engine}
  if (engine === 'batch' && roleArn === undefined) {
    throw invalidInput(
      '--engine batch needs the IAM role S3 Batch Operations runs the copies as',
      'Pass --role-arn or set AUDITFORGE_BATCH_ROLE_ARN; `auditforge migrate batch-role` prints the policies it needs.',
    )
  }
  if (engine === 'auto' && roleArn === undefined) {
    return {
      engine,
      note: '--engine auto: no Batch Operations role is configured (--role-arn, AUDITFORGE_BATCH_ROLE_ARN), so every engagement is copied by the local engine.',
    }
  }
  return {engine, roleArn, reportBucket, ...(autoObjects === undefined ? {} : {autoObjects})}
}

/** AUDITFORGE_BATCH_AUTO_OBJECTS: the object count from which `auto` hands an engagement to Batch Operations. */
function autoObjectsFrom(env: Record<string, string | undefined>): number | undefined {
  const value = env.AUDITFORGE_BATCH_AUTO_OBJECTS?.trim()
  if (!value) return undefined
  if (!/^\d{1,12}$/.test(value) || Number(value) < 1) {
    throw invalidInput(
      `Invalid AUDITFORGE_BATCH_AUTO_OBJECTS ${JSON.stringify(value)}: expected a whole number of objects, at least 1`,
    )
  }
  return Number(value)
}
