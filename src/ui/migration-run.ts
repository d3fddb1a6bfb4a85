/** What a `migrate --execute` run has settled so far, for its progress line and its Ctrl-C line. */
import type {EngagementOutcome} from '../lib/migrate/index.js'
import type {RunState} from './progress.js'

export class MigrationRun {
  /** The phase each unsettled engagement last reported. */
  private readonly phases = new Map<string, string>()
  private readonly settled: EngagementOutcome[] = []

  constructor(private readonly engagements: number) {}

  seen(engagementId: string, phase: string): void {
    if (!this.settled.some((outcome) => outcome.engagement_id === engagementId)) this.phases.set(engagementId, phase)
  }

  done(outcome: EngagementOutcome): void {
    this.settled.push(outcome)
    this.phases.delete(outcome.engagement_id)
  }

  /** The outcomes settled so far, in the order they settled. */
  get outcomes(): EngagementOutcome[] {
    return [...this.settled]
  }

  /** `1/3 engagements done` for the progress line; nothing for a run of one engagement. */
  get detail(): string | undefined {
    return this.engagements > 1 ? `${this.settled.length}/${this.engagements} engagements done` : undefined
  }

  state(): RunState {
    const ids = (outcomes: EngagementOutcome[]) => outcomes.map((outcome) => outcome.engagement_id)
    return {
      engagements: this.engagements,
      switched: ids(this.settled.filter((outcome) => outcome.status === 'migrated')),
      // Another run switched it meanwhile: neither this run's switch nor a failure.
      notSwitched: ids(this.settled.filter((outcome) => !['migrated', 'already_migrated'].includes(outcome.status))),
      switching: [...this.phases].filter(([, phase]) => phase === 'record').map(([id]) => id),
    }
  }
}
