/** `doctor` for people: a row per check; the reason of a failure wraps, never cut. */
import type {DoctorCheck} from '../lib/doctor.js'
import {plural} from './format.js'
import {renderTable} from './table.js'
import type {Rendered} from './terminal.js'

export function renderDoctor(checks: DoctorCheck[]): Rendered {
  return renderTable(
    [
      {title: 'Check', fit: 'whole'},
      {title: 'Status', fit: 'whole'},
      {title: 'Detail', fit: 'wrap'},
    ],
    checks.map((check) => [check.check, check.status.toUpperCase(), check.detail]),
  )
}

/** Why a doctor run fails (its closing `Error:` line). */
export function describeDoctorFailures(checks: DoctorCheck[]): string {
  return `${plural(checks.filter((check) => check.status === 'fail').length, 'check')} failed.`
}
