import { roomStats, steerRoom } from '../issuer.ts'
import { type Command, EXIT, PROGRAM, UsageError, COMMON_HELP, write, printJson, saleIdArgument } from '../command.ts'
import { type RoomSteer } from '../../contracts/index.ts'

export const room: Command = {
  name: 'room',
  summary: 'steer a running waiting room live: rate, max active shoppers, pause / resume / queue-all',
  usage: `Usage: ${PROGRAM} room <saleId> [--admit-per-minute <n>] [--max-active <n|none>] [--pause | --resume | --queue-all] [--json]

Changes apply to every shard at once; time already passed keeps the old settings, paused time banks no
admissions. --queue-all is the emergency stop: nobody new is admitted and checkout answers 503 until --resume.
Without options, prints the room's current state.

Options:
  --admit-per-minute <n>  new shoppers admitted per minute
  --max-active <n|none>   most shoppers holding a grant at once (none: no cap)
  --pause                 stop admitting; everyone keeps their place
  --resume                admit again
  --queue-all             emergency stop (as --pause, and checkout is held)
${COMMON_HELP}`,
  options: {
    'admit-per-minute': { type: 'string' },
    'max-active': { type: 'string' },
    pause: { type: 'boolean' },
    resume: { type: 'boolean' },
    'queue-all': { type: 'boolean' },
  },
  positionals: ['saleId'],
  async run(ctx) {
    const saleId = saleIdArgument(ctx, 'room')
    const v = ctx.values
    const modes = (['pause', 'resume', 'queue-all'] as const).filter((m) => v[m])
    if (modes.length > 1) throw new UsageError('give at most one of --pause, --resume, --queue-all', `--${modes[1]}`)
    const steer: RoomSteer = {}
    if (v['admit-per-minute'] !== undefined) {
      const n = Number(v['admit-per-minute'])
      if (!Number.isInteger(n) || n < 1)
        throw new UsageError('--admit-per-minute must be a positive integer', '--admit-per-minute')
      steer.admitPerMinute = n
    }
    if (v['max-active'] !== undefined) {
      const n = v['max-active'] === 'none' ? null : Number(v['max-active'])
      if (n !== null && (!Number.isInteger(n) || n < 1))
        throw new UsageError('--max-active must be a positive integer or none', '--max-active')
      steer.maxActive = n
    }
    if (modes[0]) steer.mode = modes[0] === 'pause' ? 'paused' : modes[0] === 'resume' ? 'open' : 'queue_all'
    const stats = Object.keys(steer).length ? await steerRoom(ctx.cfg, saleId, steer) : await roomStats(ctx.cfg, saleId)
    if (ctx.json) printJson(stats)
    else
      write(
        process.stdout,
        [
          `room       ${stats.saleId}  ${stats.mode ?? 'open'}  ${stats.admitPerMinute ?? '?'} / min  max active ${stats.maxActive ?? 'none'}  shards ${stats.shards ?? 1}`,
          `queue      ${stats.queued} waiting  ${stats.admitted} admitted  ${stats.recycled} recycled`,
          `tokens     ${stats.available} available  ${stats.granted} granted  ${stats.redeemed} redeemed  ${stats.sold} sold of ${stats.tokensLoaded}`,
        ].join('\n'),
      )
    return EXIT.ok
  },
}
