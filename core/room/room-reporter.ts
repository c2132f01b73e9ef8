import { TokenOutcomesRequest, type TokenOutcome } from '../../contracts/index.ts'

/** Core -> edge: tells the sale's waiting room what became of redeemed tokens. */
export class RoomReporter {
  constructor(
    private readonly edgeUrl: string,
    private readonly adminToken: string,
    private readonly timeoutMs = 5_000,
  ) {}

  async report(saleId: string, outcomes: TokenOutcome[]): Promise<void> {
    const body: TokenOutcomesRequest = TokenOutcomesRequest.parse({ outcomes })
    const response = await fetch(`${this.edgeUrl}/admin/sales/${encodeURIComponent(saleId)}/tokens/outcomes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    })
    if (!response.ok) throw new Error(`edge refused token outcomes for ${saleId}: ${response.status} ${await response.text()}`)
  }
}
