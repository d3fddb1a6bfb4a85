/**
 * The one base command: the global flags, `--json`, the settings and AWS clients, and a single
 * catch() that turns every failure into one line on stderr (or a JSON error on stdout under
 * `--json`) with the documented exit code.
 */
import {Command, Errors, Flags, type Interfaces} from '@oclif/core'

import type {AwsContext} from './lib/aws.js'
import {type Settings, requireSharedBucket, resolveSettings} from './lib/config.js'
import {AuditforgeError, ExitCode, type ExitCodeValue, describeAwsError} from './lib/errors.js'
import {assertCanConfirm, confirmDestructive} from './ui/confirm.js'
import {type Spinner, createSpinner} from './ui/spinner.js'
import {sanitize, useColor} from './ui/terminal.js'

export type CommandFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof AuditforgeCommand)['baseFlags'] & T['flags']>
export type CommandArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

export interface JsonError {
  error: {code: string; message: string; exit: number}
}

const global = 'GLOBAL'

export abstract class AuditforgeCommand<T extends typeof Command, R> extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    'shared-bucket': Flags.string({
      helpGroup: global,
      summary: 'Shared platform bucket that holds the engagement index. Env: AUDITFORGE_BUCKET.',
    }),
    region: Flags.string({helpGroup: global, summary: 'AWS region. Env: AWS_REGION, AWS_DEFAULT_REGION.'}),
    profile: Flags.string({helpGroup: global, summary: 'AWS profile from the shared config files. Env: AWS_PROFILE.'}),
    'endpoint-url': Flags.string({
      helpGroup: global,
      summary: 'S3-compatible endpoint for S3 calls only (path-style addressing; STS keeps AWS_ENDPOINT_URL_STS). Env: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL.',
    }),
    'account-id': Flags.string({
      helpGroup: global,
      summary: 'AWS account that owns per-engagement buckets (default: from STS). Env: AUDITFORGE_ACCOUNT_ID.',
    }),
  }

  protected flags!: CommandFlags<T>
  protected args!: CommandArgs<T>
  /** Every positional argument, for commands that take a variable number (strict = false). */
  protected positionals: string[] = []
  protected spinner!: Spinner
  private context?: AwsContext
  private resolved?: Settings

  public override async init(): Promise<void> {
    await super.init()
    const ctor = this.ctor as typeof AuditforgeCommand
    const {args, argv, flags} = await this.parse({
      args: ctor.args,
      baseFlags: (super.ctor as typeof AuditforgeCommand).baseFlags,
      enableJsonFlag: ctor.enableJsonFlag,
      flags: ctor.flags,
      strict: ctor.strict,
    })
    this.flags = flags as CommandFlags<T>
    this.args = args as CommandArgs<T>
    this.positionals = argv as string[]
    this.spinner = createSpinner(!this.jsonEnabled())
  }

  public abstract override run(): Promise<R>

  /** Settings resolved flag > environment > default, validated (exit 2) before any AWS call. */
  protected get settings(): Settings {
    this.resolved ??= resolveSettings(this.flags as Record<string, never>)
    return this.resolved
  }

  protected get sharedBucket(): string {
    return requireSharedBucket(this.settings)
  }

  /** The AWS clients, made on first use (so bad input fails before the SDK is even loaded). */
  protected async aws(settings: Settings = this.settings): Promise<AwsContext> {
    if (!this.context) {
      const {createAwsContext} = await import('./lib/aws.js')
      this.context = createAwsContext(settings)
    }
    return this.context
  }

  /** Exit 5 up front when a destructive command could not be confirmed anyway. */
  protected assertCanConfirm(yes: boolean): void {
    assertCanConfirm(yes)
  }

  /** The y/N gate for destructive commands (exit 5 without a TTY and without --yes). */
  protected async confirm(question: string, yes: boolean): Promise<void> {
    this.spinner.stop()
    await confirmDestructive(question, yes)
  }

  /** A line of progress or a warning for the operator: stderr, never stdout. */
  protected note(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(`${message}\n`)
  }

  protected warning(message: string): void {
    const label = useColor(process.stderr) ? '\u001b[33mWarning:\u001b[39m' : 'Warning:'
    process.stderr.write(`${label} ${message}\n`)
  }

  /** JSON goes to stdout plain: no colour, exactly one document. */
  public override logJson(json: unknown): void {
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`)
  }

  public override toErrorJson(error: unknown): JsonError {
    const failure = toAuditforgeError(error)
    return {error: {code: failure.code, message: failure.message, exit: failure.exit}}
  }

  public override async catch(error: Error & {exitCode?: number}): Promise<never> {
    this.spinner?.fail()
    const failure = toAuditforgeError(error)
    if (this.jsonEnabled()) {
      this.logJson(this.toErrorJson(failure))
    } else {
      const color = useColor(process.stderr)
      const label = color ? '\u001b[31mError:\u001b[39m' : 'Error:'
      process.stderr.write(`${label} ${sanitize(failure.message)}\n`)
      if (failure.suggestion) process.stderr.write(`  ${failure.suggestion}\n`)
    }
    if (/\bauditforge\b|\*/.test(process.env.DEBUG ?? '')) process.stderr.write(`${(error as Error).stack ?? error}\n`)
    // oclif 4 drops custom exit codes under --json, so exit here with the documented one.
    this.exit(failure.exit)
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    this.context?.s3.destroy()
    await super.finally(error)
  }
}

/** Every error, ours, oclif's (parsing) or the SDK's, as one AuditforgeError. */
export function toAuditforgeError(error: unknown): AuditforgeError {
  if (error instanceof AuditforgeError) return error
  if (error instanceof Errors.CLIError) {
    const exit = (error.oclif?.exit ?? ExitCode.invalidInput) as ExitCodeValue
    // oclif puts the reason on later lines ("Parsing --concurrency\n\tExpected an integer…").
    const message = error.message
      .replace(/^Error: /, '')
      .split('\n')
      .map((line) => line.trim().replace(/\s{2,}/g, ' '))
      .filter((line) => line !== '' && line !== 'See more help with --help' && line !== 'The following error occurred:')
      .join(': ')
      .replace(/::/g, ':')
    return new AuditforgeError(message, {code: 'invalid_input', exit, suggestion: 'See --help for usage.'})
  }
  return describeAwsError(error, {action: 'Running the command'})
}
