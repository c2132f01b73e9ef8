import { saleInvariant } from '../issuer.ts'
import { type Command, EXIT, PROGRAM, COMMON_HELP, write, printJson, saleIdArgument, checkLines } from '../command.ts'

export const invariant: Command = {
  name: 'invariant',
  summary: "core's invariant checks for a sale; exit 2 if any fails",
  usage: `Usage: ${PROGRAM} invariant <saleId> [--json]

Prints core's invariant checks for a sale (Redis units add up, never oversold, one order per token, …).
Exit code 0 when every check holds, 2 when any fails. Only core is asked.

Options:
${COMMON_HELP}`,
  options: {},
  positionals: ['saleId'],
  async run(ctx) {
    const report = await saleInvariant(ctx.cfg, saleIdArgument(ctx, 'invariant'))
    if (ctx.json) printJson(report)
    else write(process.stdout, [`sale       ${report.saleId}  stock ${report.stock}`, ...checkLines(report)].join('\n'))
    return report.ok ? EXIT.ok : EXIT.invariantFailed
  },
}
