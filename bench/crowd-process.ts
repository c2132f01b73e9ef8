/**
 * The shoppers' own process (see `spawnCrowd`): runs a crowd from the options in argv[2] (JSON), writes
 * `progress <done>` lines to stderr, and the CrowdReport as one JSON line on stdout.
 */
import { Agent, setGlobalDispatcher } from 'undici'
import { runCrowd, type CrowdOptions } from './shoppers.ts'

const options = JSON.parse(process.argv[2] ?? '{}') as CrowdOptions
setGlobalDispatcher(new Agent({ connections: options.connections ?? 1024, keepAliveTimeout: 4_000 }))
let last = 0
const report = await runCrowd({
  ...options,
  onResult: (_result, done) => {
    if (performance.now() - last > 1000) {
      last = performance.now()
      process.stderr.write(`progress ${done}\n`)
    }
  },
})
process.stdout.write(`${JSON.stringify(report)}\n`)
