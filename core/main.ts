import { loadConfig } from './config.ts'
import { startCore } from './core.ts'

/** `node --import tsx core/main.ts` — the core service. ROLE picks API, workers, or both. */
const config = loadConfig()
const core = await startCore(config)
core.logger.info({ url: core.url, role: config.ROLE, gateway: core.gateway.name }, 'floodgate core started')

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    core.logger.info({ signal }, 'shutting down')
    core.close().then(
      () => process.exit(0),
      (err) => {
        core.logger.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  })
}
