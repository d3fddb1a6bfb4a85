/**
 * The least-privilege policy's principals: the ARNs the operator allows (`--allow-principal`,
 * AUDITFORGE_ALLOWED_PRINCIPALS), matched the way IAM's ArnLike matches `aws:PrincipalArn`, and
 * the check that the list does not lock out the caller who writes it.
 */
import type {AwsContext} from '../aws.js'
import {invalidInput} from '../errors.js'

/** An IAM or STS principal ARN; `*` and `?` allowed as in ArnLike. */
const principalPattern = /^arn:(aws|aws-cn|aws-us-gov|\*):(iam|sts|\*)::(\d{12}|\*):[A-Za-z0-9+=,.@_/*?-]+$/

/** Checks one `--allow-principal` value; exit 2 when it is not a principal ARN. */
export function validatePrincipal(arn: string): string {
  if (!principalPattern.test(arn)) {
    throw invalidInput(
      `Invalid --allow-principal ${JSON.stringify(arn)}: expected an IAM principal ARN (wildcards * and ? allowed)`,
      'Principals look like arn:aws:iam::741783034843:role/platform-task or arn:aws:iam::741783034843:user/alice.',
    )
  }
  return arn
}

/**
 * The `aws:PrincipalArn` a request of the caller carries: for a role session
 * (`arn:aws:sts::<account>:assumed-role/<role>/<session>`) the role's ARN, otherwise the caller's.
 * A role's path is not in its session ARN; {@link principalMatches} allows for any.
 */
export function principalArnOf(callerArn: string): string {
  const session = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn)
  return session ? `arn:${session[1]}:iam::${session[2]}:role/${session[3]}` : callerArn
}

/** ArnLike: each of the six colon-separated parts compared on its own, with `*` and `?`. */
function arnLike(pattern: string, arn: string): boolean {
  const patternParts = pattern.split(':')
  const arnParts = arn.split(':')
  if (patternParts.length < 6 || arnParts.length < 6) return false
  const head = (parts: string[]) => [...parts.slice(0, 5), parts.slice(5).join(':')]
  const [wanted, given] = [head(patternParts), head(arnParts)]
  return wanted.every((part, i) => wildcard(part).test(given[i]))
}

function wildcard(part: string): RegExp {
  const escaped = part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${escaped}$`)
}

/**
 * Whether an allowed pattern covers a principal. For a role, a pattern with a path
 * (`role/service/<name>`) counts too, since the role's path cannot be told from its session.
 */
export function principalMatches(pattern: string, principalArn: string): boolean {
  if (arnLike(pattern, principalArn)) return true
  const role = /^(arn:[^:]+:iam::\d{12}:role\/)([^/]+)$/.exec(principalArn)
  if (!role) return false
  const withPath = /^(.*:role\/)(.+\/)([^/]+)$/.exec(pattern)
  return withPath !== null && arnLike(`${withPath[1]}${withPath[3]}`, principalArn)
}

/**
 * Refuses (exit 2) an allowed list that would deny the caller, who must still be able to manage
 * the bucket after writing the policy; nothing has been written when it does.
 */
export async function assertAllowsCaller(context: AwsContext): Promise<void> {
  const allowed = context.settings.controls.allowedPrincipals
  if (allowed.length === 0) return
  const caller = principalArnOf(await context.callerArn())
  if (allowed.some((pattern) => principalMatches(pattern, caller))) return
  throw invalidInput(
    `The --allow-principal list would lock you out: the caller ${caller} is not among ${allowed.join(', ')}; nothing was written`,
    `Add the caller (--allow-principal ${caller}) or run as one of the allowed principals.`,
  )
}
