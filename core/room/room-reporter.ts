import { Agent, fetch } from 'undici'
import { TokenOutcomesRequest, type TokenOutcome } from '../../contracts/index.ts'

/**
 * Idle connections to the edge are dropped after this long. workerd (Miniflare, `wrangler dev`) closes an
 * idle client connection after about 5 s without saying so in a Keep-Alive header; undici's default of 4 s
 * leaves one second, which a busy event loop eats, and a request then goes out on a socket the edge is closing.
 */
const EDGE_IDLE_MS = 1_000
/** Connection-level failures where the request cannot have been applied twice: safe to send again at once. */
const RESET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED', 'ECONNREFUSED'])

function resetCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: string } }).cause
  return cause?.code ?? (error as { code?: string }).code
}

/** Core -> edge: tells the sale's waiting room what became of redeemed tokens. */
export class RoomReporter {
  private readonly agent = new Agent({ keepAliveTimeout: EDGE_IDLE_MS, keepAliveMaxTimeout: EDGE_IDLE_MS })

  constructor(
    private readonly edgeUrl: string,
    private readonly adminToken: string,
    private readonly timeoutMs = 5_000,
  ) {}

  /**
   * Applying outcomes is idempotent at the room (only the token's current generation moves), so a call whose
   * connection broke is sent once more on a fresh one; anything else is left to the job's retries.
   */
  async report(saleId: string, outcomes: TokenOutcome[]): Promise<void> {
    const body = JSON.stringify(TokenOutcomesRequest.parse({ outcomes }))
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await fetch(`${this.edgeUrl}/admin/sales/${encodeURIComponent(saleId)}/tokens/outcomes`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.adminToken}`, 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
          dispatcher: this.agent,
        })
        if (!response.ok)
          throw new Error(`edge refused token outcomes for ${saleId}: ${response.status} ${await response.text()}`)
        return
      } catch (error) {
        const code = resetCode(error)
        if (attempt >= 2 || code === undefined || !RESET_CODES.has(code)) throw error
      }
    }
  }

  close(): Promise<void> {
    return this.agent.close()
  }
}
