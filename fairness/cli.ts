/**
 * verify-fairness: checks a sale's line order from its public proof alone (fairness/verify.ts).
 *
 *   npm run verify-fairness -- <edge-url> <saleId> [--json] [--commitment <hex>]
 *
 * Exit codes: 0 every check holds (or has nothing to check yet), 2 a check failed, 1 the proof could not be
 * read, 64 bad arguments.
 */
import { parseArgs } from 'node:util'
import { SaleId } from '../contracts/index.ts'
import { FetchError, fetchPublicFairness } from './fetch.ts'
import { verifyFairness, type FairnessVerdict } from './verify.ts'

const EXIT = { ok: 0, unreadable: 1, failed: 2, usage: 64 } as const

const USAGE = `Usage: verify-fairness <edge-url> <saleId> [--json] [--commitment <hex>]

Reads the sale's public fairness proof from the edge (no credentials: GET /api/sales/<saleId>/fairness and
its pages) and checks it: sha256(seed) = the commitment; every shard admitted its pre-queue in the order
sha256(seed ":" publicId) gives; first-come shoppers in arrival order (Kendall tau-b >= 0.99 per shard);
every admission a distinct generation of a token, no more tokens used than loaded. Exit code 2 when a check
fails.

Options:
  --json               print the verdict as one JSON object
  --commitment <hex>   the commitment you saved before the start: the seed must match it too
  --help`

const mark = (ok: boolean | null) => (ok === null ? '-' : ok ? '✓' : '✗')

function human(v: FairnessVerdict): string {
  const lines = [
    `sale       ${v.saleId}  starts ${v.startsAt}  shards ${v.shards}  pre-queue ${v.prequeueOrder}`,
    `joined     ${v.joined} (${v.prequeueJoined} in the pre-queue)   admitted ${v.admitted}   tokens ${v.tokens}` +
      (v.stock === null ? '' : ` (stock ${v.stock})`),
    `commitment ${v.commitment ?? '-'}`,
    `seed       ${v.seed ?? '(revealed at the start)'}`,
    ...v.checks.map((c) => `  ${mark(c.ok)} ${c.name}: ${c.detail}`),
    `explained  ${v.explained.recycled} recycled-token admissions, ${v.explained.readmitted} shoppers admitted ` +
      `again after rejoining, ${v.explained.unusedGenerations} generations lent and given back unused, ` +
      `${v.explained.tiedJoinTimes} / ${v.explained.tiedAdmissionTimes} first-come pairs tied in arrival / admission`,
    v.ok ? 'verdict    the public proof holds' : 'verdict    FAILED',
  ]
  return lines.join('\n')
}

const OPTIONS = { json: { type: 'boolean' }, commitment: { type: 'string' }, help: { type: 'boolean' } } as const
const parse = (argv: string[]) => parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true })

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (error) {
    process.stderr.write(`verify-fairness: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`)
    return EXIT.usage
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return EXIT.ok
  }
  const [edgeUrl, saleId] = positionals
  const problem =
    edgeUrl === undefined || !/^https?:\/\//.test(edgeUrl)
      ? 'give the edge URL (http:// or https://) first'
      : saleId === undefined || !SaleId.safeParse(saleId).success
        ? 'give a sale id second (a-z, 0-9 and "-")'
        : values.commitment !== undefined && !/^[0-9a-f]{64}$/.test(values.commitment)
          ? '--commitment takes 64 hex characters'
          : null
  if (problem) {
    process.stderr.write(`verify-fairness: ${problem}\n${USAGE}\n`)
    return EXIT.usage
  }
  try {
    const data = await fetchPublicFairness(edgeUrl!, saleId!)
    const options = values.commitment === undefined ? {} : { commitment: values.commitment }
    const verdict = await verifyFairness(data, options)
    process.stdout.write(`${values.json ? JSON.stringify(verdict) : human(verdict)}\n`)
    return verdict.ok ? EXIT.ok : EXIT.failed
  } catch (error) {
    if (!(error instanceof FetchError)) throw error
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ error: { message: error.message, status: error.status } })}\n`)
    }
    process.stderr.write(`verify-fairness: ${error.message}\n`)
    return EXIT.unreadable
  }
}

process.exitCode = await main(process.argv.slice(2))
