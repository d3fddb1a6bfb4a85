/**
 * The bucket policy as one document shared by several controls (TLS-only, least privilege):
 * auditforge's statements are told apart from everyone else's by their Sid, and a write merges
 * them into the policy that is there, keeping every statement auditforge did not write.
 */
import {DeleteBucketPolicyCommand, GetBucketPolicyCommand, PutBucketPolicyCommand} from '@aws-sdk/client-s3'

import {AuditforgeError, ExitCode, awsErrorCode, describeAwsError} from '../errors.js'
import type {ControlTarget} from './controls.js'

export interface PolicyStatement {
  Sid?: string
  Effect?: string
  Principal?: unknown
  Action?: string | string[]
  Resource?: string | string[]
  Condition?: Record<string, Record<string, unknown>>
  [field: string]: unknown
}

export interface PolicyDocument {
  Version?: string
  Statement: PolicyStatement[]
  [field: string]: unknown
}

/** Every statement auditforge writes has a Sid starting with this; no other statement is touched. */
export const auditforgeSidPrefix = 'Auditforge'

/** The ARN partition of a region: `aws`, `aws-cn` or `aws-us-gov`. */
export function partitionOf(region: string | undefined): string {
  if (region?.startsWith('cn-')) return 'aws-cn'
  if (region?.startsWith('us-gov-')) return 'aws-us-gov'
  return 'aws'
}

/** The bucket and every object in it, as policy resources. */
export function bucketResources(target: ControlTarget): string[] {
  const arn = `arn:${target.partition}:s3:::${target.bucket}`
  return [arn, `${arn}/*`]
}

/** The bucket's policy, parsed; undefined when it has none. Read once per target. */
export function readPolicy(target: ControlTarget): Promise<PolicyDocument | undefined> {
  return target.once('policy', async () => {
    let text: string | undefined
    try {
      const reply = await target.s3.send(
        new GetBucketPolicyCommand({Bucket: target.bucket, ExpectedBucketOwner: target.owner}),
      )
      text = reply?.Policy
    } catch (error) {
      if (awsErrorCode(error) === 'NoSuchBucketPolicy') return undefined
      throw describeAwsError(error, {action: 'Reading the bucket policy', bucket: target.bucket})
    }
    if (!text) return undefined
    try {
      const parsed = JSON.parse(text) as {Statement?: PolicyStatement | PolicyStatement[]}
      const statements =
        parsed.Statement === undefined ? [] : Array.isArray(parsed.Statement) ? parsed.Statement : [parsed.Statement]
      return {...parsed, Statement: statements}
    } catch (error) {
      throw new AuditforgeError(`The bucket policy of ${target.bucket} is not valid JSON; it was left as it is`, {
        code: 'invalid_policy',
        exit: ExitCode.failed,
        cause: error,
      })
    }
  })
}

/** auditforge's own statement with this Sid, if the policy has it. */
export function ownStatement(policy: PolicyDocument | undefined, sid: string): PolicyStatement | undefined {
  return policy?.Statement.find((statement) => statement.Sid === sid)
}

const asList = (value: unknown): unknown[] => (value === undefined ? [] : Array.isArray(value) ? value : [value])

/**
 * Whether two statements say the same, whatever their Sids, the order of lists, the form of
 * one-item lists, or `{"AWS": "*"}` for `"*"`.
 */
export function sameStatement(found: PolicyStatement | undefined, wanted: PolicyStatement): boolean {
  return found !== undefined && canonical(meaning(found)) === canonical(meaning(wanted))
}

function meaning({Sid: _sid, ...statement}: PolicyStatement): PolicyStatement {
  const principal = statement.Principal
  const everyone =
    principal &&
    typeof principal === 'object' &&
    Object.keys(principal).length === 1 &&
    asList((principal as {AWS?: unknown}).AWS).join() === '*'
  return everyone ? {...statement, Principal: '*'} : statement
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) {
    const items = value.map((item) => canonical(item)).sort()
    return items.length === 1 ? items[0] : `[${items.join(',')}]`
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonical(item)}`).join(',')}}`
  }
  // "false" and false mean the same in a condition.
  return JSON.stringify(typeof value === 'boolean' ? String(value) : value)
}

/** The principals of a statement as a list, `*` for everyone. */
export function principalsOf(statement: PolicyStatement): string[] {
  const principal = statement.Principal
  if (principal === '*') return ['*']
  if (principal && typeof principal === 'object') return asList((principal as Record<string, unknown>).AWS).map(String)
  return []
}

/**
 * Writes the policy: every statement that is there and auditforge did not write, kept as it is,
 * then auditforge's statements for the controls that apply (`wanted`, by Sid; a Sid mapped to
 * undefined is removed). auditforge's statements for controls skipped here are left as they are.
 */
export async function writePolicy(
  target: ControlTarget,
  wanted: ReadonlyMap<string, PolicyStatement | undefined>,
): Promise<void> {
  const current = await readPolicy(target)
  const kept = (current?.Statement ?? []).filter(
    (statement) => !(statement.Sid !== undefined && wanted.has(statement.Sid)),
  )
  const ours = [...wanted.values()].filter((statement): statement is PolicyStatement => statement !== undefined)
  const statements = [...kept, ...ours]
  const location = {Bucket: target.bucket, ExpectedBucketOwner: target.owner}
  if (statements.length === 0) {
    if (current) await target.s3.send(new DeleteBucketPolicyCommand(location))
    return
  }
  const document: PolicyDocument = {...current, Version: current?.Version ?? '2012-10-17', Statement: statements}
  await target.s3.send(new PutBucketPolicyCommand({...location, Policy: JSON.stringify(document)}))
}
