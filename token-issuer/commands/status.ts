import { saleStatus, type SaleStatus } from '../issuer.ts'
import {
  type Command,
  EXIT,
  PROGRAM,
  COMMON_HELP,
  write,
  printJson,
  money,
  duration,
  saleIdArgument,
  grid,
  checkLines,
} from '../command.ts'

export function formatStatus({ at, sale, invariant, room }: SaleStatus): string {
  const opensIn = Date.parse(sale.startsAt) - Date.parse(at)
  return [
    `sale       ${sale.saleId}  "${sale.name}" (${sale.sku})  ${money(sale.priceCents, sale.currency)}  limit ${sale.perShopperLimit}/shopper`,
    `starts     ${sale.startsAt}  (${opensIn > 0 ? `opens in ${duration(opensIn)}` : `open for ${duration(opensIn)}`})`,
    '',
    ...grid([
      [
        'units',
        [
          ['stock', sale.stock],
          ['available', invariant.redis.available],
          ['held', invariant.redis.held],
          ['sold', invariant.redis.sold],
        ],
      ],
      [
        'orders',
        [
          ['confirmed', invariant.postgres.confirmed],
          ['pending', invariant.postgres.pending],
          ['failed', invariant.postgres.failed],
        ],
      ],
      [
        'room',
        [
          ['queued', room.queued],
          ['admitted', room.admitted],
          ['granted', room.granted],
          ['redeemed', room.redeemed],
        ],
      ],
      [
        'tokens',
        [
          ['loaded', room.tokensLoaded],
          ['available', room.available],
          ['sold', room.sold],
          ['recycled', room.recycled],
        ],
      ],
    ]),
    ...(room.configured ? [] : ['           (waiting room NOT configured)']),
    '',
    ...checkLines(invariant),
    '',
    `as of ${at}`,
  ].join('\n')
}

export const status: Command = {
  name: 'status',
  summary: "a sale's units, orders, waiting room and invariant checks",
  usage: `Usage: ${PROGRAM} status <saleId> [--json]

Shows stock, available, held and sold units (Redis), confirmed, pending and failed orders (Postgres),
the waiting room's queued, admitted and granted shoppers (edge), and core's invariant checks (✓/✗).

Options:
${COMMON_HELP}`,
  options: {},
  positionals: ['saleId'],
  async run(ctx) {
    const result = await saleStatus(ctx.cfg, saleIdArgument(ctx, 'status'))
    if (ctx.json) printJson(result)
    else write(process.stdout, formatStatus(result))
    return EXIT.ok
  },
}
