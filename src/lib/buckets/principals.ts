/**
 * The least-privilege policy's principals: the ARNs the operator allows (`--allow-principal`,
 * AUDITFORGE_ALLOWED_PRINCIPALS), matched the way IAM's ArnLike matches `aws:PrincipalArn`, and
 * the check that the list does not lock out the caller who writes it.
 */
import {GetRoleCommand} from '@aws-sdk/client-iam'

import {type AwsContext, createIamClient} from '../aws.js'
import {awsErrorCode, invalidInput} from '../errors.js'

/** An IAM or STS principal ARN; `*` and `?` allowed as in ArnLike. */
const principalPattern = /^arn:(aws|aws-cn|aws-us-gov|\*):(iam|sts|\*)::(\d{12}|\*):[A-Za-z0-9+=,.@_/*?-]+$/

/** Checks one `--allow-principal` value; exit 2 when it is not a principal ARN. */
export function validatePrincipal(arn: string): string {
  const session = /^arn:([^:]+):sts::(\d{12}|\*):assumed-role\/([^/]+)\//.exec(arn)
  if (session) {
    throw invalidInput(
      `Invalid --allow-principal ${JSON.stringify(arn)}: a role session's ARN is never a request's aws:PrincipalArn (the role's ARN is), so it would allow nobody`,
      `Allow the role: arn:${session[1]}:iam::${session[2]}:role/${session[3]} (with its path, if it has one).`,
    )
  }
  if (!principalPattern.test(arn)) {
    throw invalidInput(
      `Invalid --allow-principal ${JSON.stringify(arn)}: expected an IAM principal ARN (wildcards * and ? allowed)`,
      'Principals look like arn:aws:iam::741783034843:role/platform-task or arn:aws:iam::741783034843:user/alice.',
    )
  }
  return arn
}

/**
 * The `aws:PrincipalArn` of the caller's requests. For a role session
 * (`arn:aws:sts::<account>:assumed-role/<role>/<session>`) that is the role's ARN, path included
 * (IAM Identity Center roles live under `/aws-reserved/sso.amazonaws.com/<region>/`), and the
 * session ARN does not carry the path: `pathUnknown` says it could not be read (iam:GetRole).
 */
export interface CallerPrincipal {
  arn: string
  pathUnknown?: {role: string; reason: string}
}

/** The role of a role session ARN, without its path; undefined for any other principal. */
export function sessionRole(callerArn: string): {arn: string; name: string} | undefined {
  const session = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn)
  return session ? {arn: `arn:${session[1]}:iam::${session[2]}:role/${session[3]}`, name: session[3]} : undefined
}

/** The caller's `aws:PrincipalArn`: for a role session, the role's ARN as iam:GetRole gives it. */
export async function callerPrincipal(context: AwsContext): Promise<CallerPrincipal> {
  const callerArn = await context.callerArn()
  const role = sessionRole(callerArn)
  if (!role) return {arn: callerArn}
  const iam = await createIamClient(context.settings, context.credentials)
  try {
    const reply = await iam.send(new GetRoleCommand({RoleName: role.name}))
    if (reply.Role?.Arn) return {arn: reply.Role.Arn}
    return {arn: role.arn, pathUnknown: {role: role.name, reason: 'iam:GetRole answered without an ARN'}}
  } catch (error) {
    // Denied, or unreachable: the path stays unknown, and only a list that allows the role
    // whatever its path is accepted.
    return {
      arn: role.arn,
      pathUnknown: {role: role.name, reason: `iam:GetRole failed: ${awsErrorCode(error) ?? (error as Error).message}`},
    }
  } finally {
    iam.destroy()
  }
}

/** ArnLike: each of the six colon-separated parts compared on its own, with `*` and `?`. */
export function principalMatches(pattern: string, arn: string): boolean {
  const patternParts = pattern.split(':')
  const arnParts = arn.split(':')
  if (patternParts.length < 6 || arnParts.length < 6) return false
  const head = (parts: string[]) => [...parts.slice(0, 5), parts.slice(5).join(':')]
  const [wanted, given] = [head(patternParts), head(arnParts)]
  return wanted.every((part, i) => wildcard(part).test(given[i]))
}

function wildcard(part: string): RegExp {
  const escaped = part
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${escaped}$`)
}

/**
 * Whether an allowed pattern covers the caller. With the role's path unknown, the pattern must
 * match the role whatever its path is: its resource part opens with a wildcard that can take any
 * path (`*` or `role/*…`), and it matches the role without one.
 */
export function allowsCaller(pattern: string, caller: CallerPrincipal): boolean {
  if (!principalMatches(pattern, caller.arn)) return false
  if (!caller.pathUnknown) return true
  const resource = pattern.split(':').slice(5).join(':')
  return resource.startsWith('*') || resource.startsWith('role/*')
}

/**
 * Refuses (exit 2) an allowed list that would deny the caller, who must still be able to manage
 * the bucket after writing the policy; nothing has been written when it does.
 */
export async function assertAllowsCaller(context: AwsContext): Promise<void> {
  const allowed = context.settings.controls.allowedPrincipals
  if (allowed.length === 0) return
  const caller = await callerPrincipal(context)
  if (allowed.some((pattern) => allowsCaller(pattern, caller))) return
  if (caller.pathUnknown) {
    const {role, reason} = caller.pathUnknown
    const anyPath = caller.arn.replace(/:role\/.*$/, `:role/*${role}`)
    throw invalidInput(
      `The --allow-principal list may lock you out: the path of your role ${role} could not be read (${reason}), and the policy matches the role's ARN with its path; nothing was written`,
      `Allow iam:GetRole on the role, or allow it whatever its path: --allow-principal '${anyPath}'.`,
    )
  }
  throw invalidInput(
    `The --allow-principal list would lock you out: the caller ${caller.arn} is not among ${allowed.join(', ')}; nothing was written`,
    `Add the caller (--allow-principal ${caller.arn}) or run as one of the allowed principals.`,
  )
}
