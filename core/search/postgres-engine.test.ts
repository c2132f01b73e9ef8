import { describe, expect, it } from 'vitest'
import { searchEngineContract } from './engine-contract.ts'
import { words } from './engine.ts'
import { PostgresSearchEngine } from './postgres-engine.ts'

// The default engine: the contract runs on real Postgres in every test run.
searchEngineContract('postgres', async ({ db }) => ({
  engine: new PostgresSearchEngine(db),
  settle: async () => {},
  destroy: async () => {},
}))

describe('query words', () => {
  it('should fold case and accents and split on anything but letters and digits', () => {
    expect(words('Crème-Brûlée  TORCH, x200!')).toEqual(['creme', 'brulee', 'torch', 'x200'])
  })
})
