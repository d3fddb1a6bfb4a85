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

/** The closing line of a doctor run with failures. */
export function describeDoctorFailures(checks: DoctorCheck[]): string {
  return `Error: ${plural(checks.filter((check) => check.status === 'fail').length, 'check')} failed.`
}
