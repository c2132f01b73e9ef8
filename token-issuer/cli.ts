/**
 * token-issuer: the operator's command line. A thin shell around `issuer.ts`.
 *
 *   tsx token-issuer/cli.ts <command> [options]     (npm run token-issuer -- <command> [options])
 *
 * Exit codes: 0 ok, 1 a service refused or could not be reached, 2 an invariant check failed (`invariant`),
 * 64 bad arguments (EX_USAGE), 78 bad environment (EX_CONFIG).
 */
import { IssuerConfigError, IssuerError, issuerConfig } from './issuer.ts'
import { parseArgs } from 'node:util'
import {
  type Values,
  type Command,
  EXIT,
  PROGRAM,
  UsageError,
  ENV_HELP,
  COMMON_OPTIONS,
  write,
  printJson,
  reportServiceError,
} from './command.ts'
import { create } from './commands/create.ts'
import { status } from './commands/status.ts'
import { watch } from './commands/watch.ts'
import { invariant } from './commands/invariant.ts'
import { room } from './commands/room.ts'
import { report } from './commands/report.ts'
import { reconcileCommand } from './commands/reconcile.ts'
import { catalog } from './commands/catalog.ts'

const COMMANDS: Command[] = [create, status, watch, invariant, room, report, reconcileCommand, catalog]

const USAGE = `Usage: ${PROGRAM} <command> [options]

Operator CLI for Floodgate flash sales.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(10)}  ${c.summary}`).join('\n')}

Every command accepts --json (one JSON object per line on stdout) and --help.
Run '${PROGRAM} <command> --help' for its options.

${ENV_HELP}

Exit codes: 0 ok, 1 service error, 2 invariant check failed, 64 bad arguments, 78 bad environment.`

// ---------------------------------------------------------------- main

function parseCommandArgs(command: Command, args: string[]): { values: Values; positionals: string[] } {
  try {
    return parseArgs({ args, options: { ...command.options, ...COMMON_OPTIONS }, allowPositionals: true, strict: true })
  } catch (error) {
    const code = (error as { code?: string }).code
    const message = error instanceof Error ? error.message : String(error)
    const flag = /'(-[^'\s]+)/.exec(message)?.[1]
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${flag ?? message}`, flag)
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE')
      throw new UsageError(`option ${flag ?? ''} needs a value`.replace('  ', ' '), flag)
    throw new UsageError(message, flag)
  }
}

async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json')
  const [name, ...args] = argv
  let command: Command | undefined
  try {
    if (name === undefined) throw new UsageError('missing command')
    if (name === '--help' || name === '-h' || name === 'help') {
      const topic = name === 'help' ? COMMANDS.find((c) => c.name === args[0]) : undefined
      write(process.stdout, topic?.usage ?? USAGE)
      return EXIT.ok
    }
    command = COMMANDS.find((c) => c.name === name)
    if (!command)
      throw new UsageError(
        `unknown command ${JSON.stringify(name)} (commands: ${COMMANDS.map((c) => c.name).join(', ')})`,
      )
    if (args.includes('--help') || args.includes('-h')) {
      write(process.stdout, command.usage)
      return EXIT.ok
    }
    const { values, positionals } = parseCommandArgs(command, args)
    const cfg = issuerConfig(process.env)
    return await command.run({ values, positionals, json, cfg })
  } catch (error) {
    if (error instanceof UsageError) {
      const where = command ? `${PROGRAM} ${command.name}` : PROGRAM
      write(process.stderr, `${where}: ${error.message}\nRun '${where} --help' for usage.`)
      if (json)
        printJson({ error: { code: 'usage', message: error.message, ...(error.flag ? { field: error.flag } : {}) } })
      return EXIT.usage
    }
    if (error instanceof IssuerConfigError) {
      write(process.stderr, `${PROGRAM}: ${error.message}`)
      if (json) printJson({ error: { code: 'invalid_config', message: error.message } })
      return EXIT.config
    }
    if (error instanceof IssuerError) {
      reportServiceError(error, json)
      return EXIT.serviceError
    }
    throw error
  }
}

// `token-issuer watch … | head` closes stdout early: that is the reader saying it has seen enough.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error
  process.exit(process.exitCode ?? EXIT.ok)
})
process.exitCode = await main(process.argv.slice(2))
