/**
 * Why a migrate run exits non-zero, in one sentence with the exit code's `status`: what failed
 * verification, what another run holds, what failed to migrate and whether a re-run alone finishes
 * it; and --strict's no-plan failure.
 */
import {AuditforgeError, ExitCode, passingFailureCodes} from '../errors.js'
import {agree, plural} from '../wording.js'
import type {EngagementOutcome, VerifyOutcome} from '../../results/migrate.js'
import {migrationExitCode} from './report.js'

/** The `status` of a migration that exits non-zero, by its exit code. */
const migrationFailureCodes = {
  [ExitCode.failed]: 'migration_failed',
  [ExitCode.verificationFailed]: 'verification_failed',
  [ExitCode.refused]: 'migration_refused',
  [ExitCode.conflict]: 'migration_conflict',
} as const

const heldElsewhere = (outcome: EngagementOutcome | VerifyOutcome) =>
  'error_code' in outcome &&
  (outcome.error_code === 'migration_in_progress' || outcome.error_code === 'migration_lease_lost')

/** The failure of a run whose outcomes exit non-zero; undefined when they exit 0. */
export function migrationFailure(outcomes: (EngagementOutcome | VerifyOutcome)[]): AuditforgeError | undefined {
  const failed = outcomes.filter((outcome) => outcome.status === 'verification_failed')
  const held = outcomes.filter((outcome) => outcome.status === 'failed' && heldElsewhere(outcome)).length
  const brokenOutcomes = outcomes.filter((outcome) => outcome.status === 'failed' && !heldElsewhere(outcome))
  const broken = brokenOutcomes.length
  // A re-run alone finishes only what failed in passing; a cause like access denied or an
  // unreachable endpoint stays until it is fixed.
  const passing = brokenOutcomes.every(
    (outcome) => 'error_code' in outcome && passingFailureCodes.has(outcome.error_code ?? ''),
  )
  const problems = [
    ...(failed.length > 0 ? [`${plural(failed.length, 'engagement')} failed verification`] : []),
    ...(held > 0
      ? [
          `${plural(held, 'engagement')} ${agree(held, 'is', 'are')} being migrated by another run; run the command again once it has finished`,
        ]
      : []),
    ...(broken > 0
      ? [
          passing
            ? `${plural(broken, 'engagement')} failed to migrate; ${agree(broken, 'its record was', 'their records were')} not changed and running the command again finishes ${agree(broken, 'it', 'them')}`
            : `${plural(broken, 'engagement')} failed to migrate; ${agree(broken, 'its record was', 'their records were')} not changed. ${agree(broken, 'Its error says', 'Their errors say')} what to fix first; running the command again then finishes ${agree(broken, 'it', 'them')}`,
        ]
      : []),
  ]
  const exit = migrationExitCode(outcomes)
  if (problems.length === 0 || exit === ExitCode.ok) return undefined
  return new AuditforgeError(`${problems.join('; ')}.`, {code: migrationFailureCodes[exit], exit})
}

/** --strict: the no-plan outcome as a failure (exit 1), with what to check for each cause. */
export function noPlanFailure(status: 'access_denied' | 'no_such_bucket', message: string): AuditforgeError {
  const suggestion =
    status === 'no_such_bucket'
      ? 'Check the shared bucket name (--shared-bucket or AUDITFORGE_BUCKET), the region and the endpoint.'
      : 'The credentials need s3:ListBucket and s3:GetObject on the shared bucket; `auditforge doctor` shows what is missing.'
  return new AuditforgeError(message, {code: status, exit: ExitCode.failed, suggestion})
}
