/** The `--json` result of `doctor`. */
import type {Reported} from './common.js'

export type CheckStatus = 'pass' | 'warn' | 'fail'

export interface DoctorCheck {
  check: string
  status: CheckStatus
  detail: string
}

/** `doctor`: exit 4, `status` "checks_failed", when any check fails. */
export interface DoctorResult extends Reported<'ok' | 'checks_failed'> {
  ok: boolean
  checks: DoctorCheck[]
}
