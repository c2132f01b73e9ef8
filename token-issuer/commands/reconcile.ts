import { RECONCILE_JOBS, ReconcileJobName } from '../../contracts/index.ts'
import { reconcile } from '../issuer.ts'
import { type Command, EXIT, PROGRAM, UsageError, COMMON_HELP, write, printJson } from '../command.ts'

export const reconcileCommand: Command = {
  name: 'reconcile',
  summary: "run one of core's reconciliation jobs now and print what it fixed",
  usage: `Usage: ${PROGRAM} reconcile <job> [--json]

Runs a reconciliation job in core immediately (they also run on their own schedule) and prints its report:
what was examined, fixed and skipped, one line per change. Jobs:
  ${RECONCILE_JOBS.join(', ')}

Options:
${COMMON_HELP}`,
  options: {},
  positionals: ['job'],
  async run(ctx) {
    const [job, ...extra] = ctx.positionals
    if (!job)
      throw new UsageError(`missing <job>: ${PROGRAM} reconcile <job> (one of ${RECONCILE_JOBS.join(', ')})`, '<job>')
    if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`, extra[0])
    const parsed = ReconcileJobName.safeParse(job)
    if (!parsed.success) throw new UsageError(`<job> must be one of ${RECONCILE_JOBS.join(', ')}`, '<job>')
    const result = await reconcile(ctx.cfg, parsed.data)
    if (ctx.json) printJson(result)
    else {
      write(
        process.stdout,
        [
          `${result.job}: examined ${result.examined}, fixed ${result.fixed}, skipped ${result.skipped} (${Math.round(result.ms)} ms)`,
          ...result.actions.map((a) => `  ${a.action.padEnd(20)} ${a.id}${a.detail ? `  ${a.detail}` : ''}`),
        ].join('\n'),
      )
    }
    return EXIT.ok
  },
}
