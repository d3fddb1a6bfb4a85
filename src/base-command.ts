/**
 * The one base command: the global flags, `--json`, the settings and AWS clients, and a single
 * catch() that turns every failure into one line on stderr (or a JSON error on stdout under
 * `--json`) with the documented exit code.
 */
import {format, stripVTControlCharacters} from 'node:util'

import {Command, Errors, Flags, type Interfaces} from '@oclif/core'

import type {AwsContext} from './lib/aws.js'
import {type Settings, requireSharedBucket, resolveSettings} from './lib/config.js'
import {AuditforgeError, ExitCode, type ExitCodeValue, describeAwsError} from './lib/errors.js'
import {stringifyJson} from './lib/index-document.js'
import {type FlagShape, closestFlag} from './lib/suggestions.js'
import {assertCanConfirm, confirmDestructive} from './ui/confirm.js'
import type {JsonError, JsonErrorBody, Reported} from './results/common.js'
import {type Spinner, createSpinner} from './ui/spinner.js'
import {Rendered, sanitize, useColor} from './ui/terminal.js'

export type CommandFlags<T extends typeof Command> = Interfaces.InferredFlags<
  (typeof AuditforgeCommand)['baseFlags'] & T['flags']
>
export type CommandArgs<T extends typeof Command> = Interfaces.InferredArgs<T['args']>

export type {JsonError, JsonErrorBody, Reported} from './results/common.js'

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
      summary:
        'S3-compatible endpoint for S3 calls only (path-style addressing; STS keeps AWS_ENDPOINT_URL_STS). Env: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL.',
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

  // Everything printed for a person passes sanitize() at one of the chokepoints below (log,
  // logToStderr, note, warning, warn, the error line in catch) or in src/ui (spinner, progress,
  // the y/N question, tables), so no command can forget it. How newlines are kept safe:
  // - note, warning and the error line are one line each: their text is sanitised whole, `\n`
  //   included, so a key or a server's message can never forge a line. Lists (keys,
  //   differences) go in `details`, each item sanitised the same way and printed on its own
  //   indented line: the only line breaks are the ones the chokepoint itself writes.
  // - log prints blocks (plans, tables) whose line breaks are the renderer's layout: it lets `\n`
  //   through and escapes everything else (CR above all), and the renderers sanitise each value
  //   they put in, so no value brings a `\n` of its own. A Rendered block (a table, sanitised
  //   cell by cell, possibly with our own colour) is printed as it is.
  // --json output never passes sanitize(): the serializer escapes (logJson).

  /** Human output on stdout (data: a table, a plan, a bucket name); nothing under --json. */
  public override log(message: Rendered | string = '', ...args: unknown[]): void {
    if (this.jsonEnabled()) return
    super.log(printable(message, args))
  }

  public override logToStderr(message: Rendered | string = '', ...args: unknown[]): void {
    if (this.jsonEnabled()) return
    super.logToStderr(printable(message, args))
  }

  /** A line of progress for the operator: stderr, never stdout; nothing under --json. */
  protected note(message: string, details: string[] = []): void {
    if (!this.jsonEnabled()) process.stderr.write(lines(message, details))
  }

  /** A warning on stderr (also under --json, where stdout is the document). */
  protected warning(message: string, details: string[] = []): void {
    reportWarning(message, details)
  }

  /** oclif's own warnings (deprecations) take the same way. */
  public override warn(input: Error | string): Error | string {
    if (!this.jsonEnabled()) this.warning(typeof input === 'string' ? input : input.message)
    return input
  }

  /**
   * JSON goes to stdout plain: no colour, exactly one document. The serializer escapes C0
   * controls; DEL, C1 controls, the line separators and bidi controls are escaped as well
   * (`\u009b`), which is still exact JSON: it parses back to the very same strings. Records
   * carry the index's numbers as exact text, written as those digits, never rounded.
   */
  public override logJson(json: unknown): void {
    process.stdout.write(`${toJsonText(json)}\n`)
  }

  /**
   * The one way a command reports a result and then fails: the result is the data (the JSON
   * document, or what the command already printed for a person), and a failure sets the exit code
   * after it. Under --json the document carries `status` (the failure's code; the command's own
   * status when it succeeds, else `ok`) and `error` (null on success), so `status` never says "ok"
   * beside a non-zero exit and always agrees with `error.code`; for a person the failure is the
   * usual `Error:` line and its suggestion on stderr.
   */
  protected finish<R extends Reported<string>>(
    result: Omit<R, 'error' | 'status'> & {status?: string},
    failure?: AuditforgeError,
  ): R {
    if (failure) {
      if (!this.jsonEnabled()) reportError(failure, false)
      process.exitCode = failure.exit
    }
    const status = failure ? failure.code : ((result as {status?: string}).status ?? 'ok')
    return {...result, status, error: failure ? errorBody(failure) : null} as unknown as R
  }

  public override toErrorJson(error: unknown): JsonError {
    return errorJson(toAuditforgeError(error))
  }

  public override async catch(error: Error & {exitCode?: number}): Promise<never> {
    this.spinner?.fail()
    const failure = toAuditforgeError(error)
    reportError(failure, this.jsonEnabled())
    // A stack trace is lines by nature; its message may be a server's, so everything but \n is escaped.
    if (/\bauditforge\b|\*/.test(process.env.DEBUG ?? ''))
      process.stderr.write(`${sanitize((error as Error).stack ?? error, {keepNewlines: true})}\n`)
    // oclif 4 drops custom exit codes under --json, so exit here with the documented one.
    this.exit(failure.exit)
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    this.context?.s3.destroy()
    await super.finally(error)
  }
}

/** An error as the JSON document printed under --json. */
export function errorJson(failure: AuditforgeError): JsonError {
  return {error: errorBody(failure)}
}

/** An error's code, message, exit code and what to do about it (null when there is nothing to add). */
export function errorBody(failure: AuditforgeError): JsonErrorBody {
  return {code: failure.code, message: failure.message, exit: failure.exit, suggestion: failure.suggestion ?? null}
}

/**
 * The one way a failure is shown: under --json the error document on stdout; otherwise
 * `Error: <message>` on stderr with the suggestion indented under it. Used by every command's
 * catch() and by the command-not-found hook, which runs before there is a command.
 */
export function reportError(failure: AuditforgeError, json: boolean): void {
  if (json) {
    process.stdout.write(`${toJsonText(errorJson(failure))}\n`)
    return
  }
  const label = useColor(process.stderr) ? '\u001b[31mError:\u001b[39m' : 'Error:'
  process.stderr.write(`${label} ${lines(failure.message, failure.suggestion ? [failure.suggestion] : [])}`)
}

/** The one way a warning is shown: `Warning: <message>` on stderr, details indented under it. */
export function reportWarning(message: string, details: string[] = []): void {
  const label = useColor(process.stderr) ? '\u001b[33mWarning:\u001b[39m' : 'Warning:'
  process.stderr.write(`${label} ${lines(message, details)}`)
}

/** A Rendered block as it is; anything else sanitised, keeping only the layout's newlines. */
function printable(message: Rendered | string, args: unknown[]): string {
  if (message instanceof Rendered) return message.text
  return sanitize(args.length > 0 ? format(message, ...args) : message, {keepNewlines: true})
}

/** A message and its details, each one line, sanitised; details indented under the message. */
function lines(message: string, details: string[]): string {
  return [sanitize(message), ...details.map((detail) => `  ${sanitize(detail)}`)].map((line) => `${line}\n`).join('')
}

const unsafeInJson = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

/**
 * One JSON document, pretty-printed. These characters only ever occur inside strings, where
 * `\uXXXX` is the same character to any JSON parser; escaped, they cannot act on a terminal
 * that shows the document.
 */
export function toJsonText(json: unknown): string {
  return stringifyJson(json, 2).replace(
    unsafeInJson,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

/** Every error, ours, oclif's (parsing) or the SDK's, as one AuditforgeError. */
export function toAuditforgeError(error: unknown): AuditforgeError {
  if (error instanceof AuditforgeError) return error
  if (error instanceof Errors.CLIError) {
    const exit = (error.oclif?.exit ?? ExitCode.invalidInput) as ExitCodeValue
    // oclif puts the reason on later lines ("Parsing --concurrency\n\tExpected an integer…"),
    // dimmed on a terminal.
    const message = stripVTControlCharacters(error.message)
      .replace(/^Error: /, '')
      .split('\n')
      // A missing argument comes as "engagement-id  Engagement id, e.g. …": its name, then its description.
      .map((line) =>
        line
          .trim()
          .replace(/^([a-z][\w-]*)\s{2,}(.+?)\.?$/, '$1 ($2)')
          .replace(/\s{2,}/g, ' '),
      )
      .filter(
        (line) =>
          line !== '' && line !== 'See more help with --help' && !/^The following errors? occurred:$/.test(line),
      )
      .map((line) => withFlagDashes(line))
      .join(': ')
      .replace(/::/g, ':')
    const unknown = unknownFlagMessage(error)
    return new AuditforgeError(unknown ?? message, {
      code: 'invalid_input',
      exit: unknown ? ExitCode.invalidInput : exit,
      suggestion: 'See --help for usage.',
    })
  }
  return describeAwsError(error, {action: 'Running the command'})
}

/** oclif names a missing flag bare ("Missing required flag name"); the operator types `--name`. */
function withFlagDashes(line: string): string {
  return line.replace(/^(Missing required flag) (?!-)(\S+)$/, '$1 --$2')
}

interface ParseErrorShape {
  flags?: unknown
  parse?: {input?: {flags?: Record<string, FlagShape>}}
}

/**
 * oclif's "Nonexistent flag: --jsn" as "Unknown flag --jsn; did you mean --json?", the
 * suggestion taken from the flags this very command accepts (its own, the global ones, --json).
 */
function unknownFlagMessage(error: Errors.CLIError): string | undefined {
  const {flags, parse} = error as Errors.CLIError & ParseErrorShape
  if (!Array.isArray(flags) || !/^Nonexistent flags?:/.test(error.message)) return undefined
  const known = parse?.input?.flags ?? {}
  const named = (flags as string[]).map((typed) => {
    const meant = closestFlag(typed, known)
    return {shown: typed.split('=')[0], meant}
  })
  if (named.length === 1)
    return `Unknown flag ${named[0].shown}${named[0].meant ? `; did you mean ${named[0].meant}?` : ''}`
  return `Unknown flags: ${named.map(({meant, shown}) => (meant ? `${shown} (did you mean ${meant}?)` : shown)).join(', ')}`
}
