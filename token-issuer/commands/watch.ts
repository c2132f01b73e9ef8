import { IssuerError, saleStatus } from '../issuer.ts'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  type Command,
  EXIT,
  PROGRAM,
  UsageError,
  COMMON_HELP,
  write,
  printJson,
  wholeNumber,
  saleIdArgument,
  reportServiceError,
} from '../command.ts'
import { formatStatus } from './status.ts'

export const watch: Command = {
  name: 'watch',
  summary: 'reprint status every interval until Ctrl-C (or --count refreshes)',
  usage: `Usage: ${PROGRAM} watch <saleId> [--interval <ms>] [--count <n>] [--json]

Reprints the status of a sale every interval, clearing the screen when stdout is a terminal. A failed
refresh prints the error and watching goes on; the exit code is that of the last refresh (0 or 1).

Options:
  --interval <ms>         time between refreshes (default 1000, at least 100)
  --count <n>             stop after n refreshes (default: run until Ctrl-C)
${COMMON_HELP}`,
  options: {
    interval: { type: 'string' },
    count: { type: 'string' },
  },
  positionals: ['saleId'],
  async run(ctx) {
    const saleId = saleIdArgument(ctx, 'watch')
    const interval = wholeNumber(ctx.values, 'interval') ?? 1000
    if (interval < 100) throw new UsageError('--interval must be at least 100 (milliseconds)', '--interval')
    const count = wholeNumber(ctx.values, 'count')
    if (count === 0) throw new UsageError('--count must be at least 1', '--count')
    const clear = !ctx.json && process.stdout.isTTY
    const stop = new AbortController()
    const onSigint = () => stop.abort()
    process.once('SIGINT', onSigint)
    let exit: number = EXIT.ok
    try {
      for (let refresh = 1; !stop.signal.aborted; refresh++) {
        try {
          const result = await saleStatus(ctx.cfg, saleId)
          if (ctx.json) printJson(result)
          else
            write(process.stdout, `${clear ? '\x1b[2J\x1b[3J\x1b[H' : ''}${formatStatus(result)}${clear ? '' : '\n'}`)
          exit = EXIT.ok
        } catch (error) {
          if (!(error instanceof IssuerError)) throw error
          reportServiceError(error, ctx.json)
          exit = EXIT.serviceError
        }
        if (count !== undefined && refresh >= count) break
        await sleep(interval, undefined, { signal: stop.signal }).catch(() => undefined)
      }
    } finally {
      process.off('SIGINT', onSigint)
    }
    return exit
  },
}
