import { fairness } from '../fairness.ts'
import { roomReport } from '../issuer.ts'
import { type Command, EXIT, PROGRAM, COMMON_HELP, write, printJson, saleIdArgument } from '../command.ts'

export const report: Command = {
  name: 'report',
  summary: 'fairness report: seed commitment and reveal, shuffle check, Kendall tau, tokens, issuance log',
  usage: `Usage: ${PROGRAM} report <saleId> [--log] [--json]

Runs on the room's report the checks anyone can run on the sale's public proof (npm run verify-fairness):
sha256(revealed seed) = the commitment published when the pre-queue opened; every shard admitted its pre-queue
in the order sha256(seed ":" publicId) gives (recomputed here from the published join list); Kendall tau-b
between arrival and admission order for shoppers who joined after the start, per shard (1 = exact arrival
order; target >= 0.99); each admission a distinct generation of a token, no more tokens used than loaded.
--log prints the issuance log (public ids, as the public proof lists them). Exit code 2 when a check fails.

Options:
  --log                   print the issuance log too (always included with --json)
${COMMON_HELP}`,
  options: { log: { type: 'boolean' } },
  positionals: ['saleId'],
  async run(ctx) {
    const saleId = saleIdArgument(ctx, 'report')
    const result = await fairness(await roomReport(ctx.cfg, saleId))
    if (ctx.json) printJson(result)
    else {
      const mark = (ok: boolean | null) => (ok === null ? '-' : ok ? '✓' : '✗')
      const tau = result.kendallTau
      const fifo = `arrival vs admission, ${result.fifoAdmitted} first-come admissions`
      const lines = [
        `sale       ${result.saleId}  starts ${result.startsAt}  shards ${result.shards}`,
        `joined     ${result.joined} (${result.prequeueJoined} in the pre-queue)   admitted ${result.admitted}`,
        `commitment ${result.commitment ?? '-'}`,
        `seed       ${result.seed ?? '(revealed at the start)'}`,
        `  ${mark(result.commitmentOk)} sha256(seed) matches the commitment`,
        `  ${mark(result.shuffleOk)} shuffle: ${result.shuffleDetail}`,
        `  ${mark(tau === null ? null : tau >= 0.99)} Kendall tau (${fifo}): ${tau === null ? '-' : tau.toFixed(4)}`,
        `  ${mark(result.tokensOk)} tokens: ${result.tokensDetail}`,
      ]
      if (ctx.values.log) {
        for (const e of result.issuance) {
          const where = `shard ${e.shard}${e.pre ? '  pre-queue' : ''}`
          lines.push(`  ${e.admittedAt}  ${e.publicId}  ${e.tid} gen ${e.gen}  ${where}`)
        }
      }
      write(process.stdout, lines.join('\n'))
    }
    return result.ok ? EXIT.ok : EXIT.invariantFailed
  },
}
