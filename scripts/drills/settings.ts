/** `npm run drills` options, read once: every drill of a run shares them. */
import { parseArgs } from 'node:util'
import { loadConfig } from '../../core/config.ts'

const { values: opts } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    only: { type: 'string' },
    stock: { type: 'string', default: '100' },
    shoppers: { type: 'string', default: '260' },
    'decline-rate': { type: 'string', default: '0.2' },
    'deadline-s': { type: 'string', default: '150' },
    keep: { type: 'boolean', default: false },
  },
})

export const settings = {
  json: opts.json,
  only: opts.only?.split(','),
  keep: opts.keep,
  stock: Number(opts.stock),
  shoppers: Number(opts.shoppers),
  declineRate: Number(opts['decline-rate']),
  deadlineMs: Number(opts['deadline-s']) * 1000,
}

/** Core's development secrets: the drills' core processes run with them, and so does the drills' edge. */
export const DEV = loadConfig({})
export const WEBHOOK_SECRET = 'whsec_drill_secret_0123456789'

export const say = (...parts: unknown[]) => {
  if (!settings.json || process.env.DRILLS_VERBOSE)
    console.error(`[drills ${new Date().toISOString().slice(11, 19)}]`, ...parts)
}
