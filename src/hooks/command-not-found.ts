/**
 * A mistyped command. At a terminal, @oclif/plugin-not-found answers: it asks "Did you mean
 * engagement list?" and runs it on yes. Without a person to answer (CI, no TTY) that plugin
 * would only say "Run auditforge help" and exit 127; here the suggestion is printed instead,
 * as a usage error (exit 2), never a prompt, and under --json (even at a terminal: the plugin asks
 * on stdout) as the error document.
 */
import {Errors, type Hook, toConfiguredId} from '@oclif/core'
import notFound from '@oclif/plugin-not-found'

import {reportError, reportWarning} from '../base-command.js'
import {ExitCode, invalidInput} from '../lib/errors.js'
import {closestCommand} from '../lib/suggestions.js'
import {canPrompt} from '../ui/terminal.js'

const hook: Hook.CommandNotFound = async function (options) {
  const {config, id} = options
  const typed = toConfiguredId(id, config)
  const json = [...(options.argv ?? []), ...id.split(':')].includes('--json')
  // Under --json stdout is one document: the plugin's question (drawn on stdout) would break it.
  if (canPrompt() && !json) {
    // The plugin's own line reads "is not a auditforge command": the same warning, in our words and our style.
    const context = Object.create(this) as typeof this
    context.warn = (input) => {
      reportWarning(`${typed} is not an ${config.bin} command.`)
      return input
    }
    try {
      return await notFound.call(context, options)
    } catch (error) {
      // The plugin's "no" ends in exit 127, a shell's "command not found"; ours is a usage error.
      if (!(error instanceof Errors.CLIError && error.oclif?.exit === 127)) throw error
      reportError(invalidInput('Nothing was run', `Run ${config.bin} help for a list of commands.`), false)
      this.exit(ExitCode.invalidInput)
    }
  }
  const visible = config.commands.filter((command) => !command.hidden)
  const commandIds = [...visible.map((command) => command.id), ...visible.flatMap((command) => command.aliases)]
  const topicIds = config.topics.filter((topic) => !topic.hidden).map((topic) => topic.name)
  const meant = closestCommand(id, commandIds, topicIds)
  const message = `${typed} is not an ${config.bin} command${meant ? `; did you mean ${toConfiguredId(meant, config)}?` : ''}`
  reportError(invalidInput(message, `Run ${config.bin} help for a list of commands.`), json)
  this.exit(ExitCode.invalidInput)
}

export default hook
