import { describe, expect, it } from 'vitest'
import { kendallTau, kendallTauB } from './kendall.ts'

/** The definition, pair by pair: O(n²). */
function bruteForce(x: number[], y: number[]) {
  let concordant = 0
  let discordant = 0
  let tiedX = 0
  let tiedY = 0
  let tiedBoth = 0
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      const dx = Math.sign(x[i]! - x[j]!)
      const dy = Math.sign(y[i]! - y[j]!)
      if (dx === 0 && dy === 0) tiedBoth++
      else if (dx === 0) tiedX++
      else if (dy === 0) tiedY++
      else if (dx === dy) concordant++
      else discordant++
    }
  }
  const denominator = Math.sqrt((concordant + discordant + tiedX) * (concordant + discordant + tiedY))
  const tau = x.length < 2 || denominator === 0 ? null : (concordant - discordant) / denominator
  return { tau, concordant, discordant, tiedX, tiedY, tiedBoth }
}

/** A small deterministic generator, so a failure can be reproduced. */
function numbers(seed: number) {
  let state = seed
  return (max: number) => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0
    return state % max
  }
}

describe('kendallTau', () => {
  it('should be 1 for the same order, -1 reversed, null with too little, and count ties for neither side', () => {
    expect(kendallTauB([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1)
    expect(kendallTauB([1, 2, 3, 4], [40, 30, 20, 10])).toBe(-1)
    expect(kendallTauB([1, 2, 3, 4], [10, 10, 30, 40])).toBeGreaterThan(0.9)
    expect(kendallTauB([1], [1])).toBeNull()
    expect(kendallTauB([1, 1, 1], [1, 2, 3])).toBeNull()
  })

  it('should count exactly what the pair-by-pair definition counts, ties and all', () => {
    const next = numbers(7)
    for (let round = 0; round < 200; round++) {
      const n = next(60)
      const spread = 1 + next(20)
      const x = Array.from({ length: n }, () => next(spread))
      const y = Array.from({ length: n }, (_, i) => (next(4) === 0 ? next(spread) : x[i]! + next(3)))
      const fast = kendallTau(x, y)
      const slow = bruteForce(x, y)
      expect({ ...fast, tau: fast.tau === null ? null : Number(fast.tau.toFixed(12)) }).toEqual({
        ...slow,
        tau: slow.tau === null ? null : Number(slow.tau.toFixed(12)),
      })
    }
  })

  it('should handle a large log quickly', () => {
    const n = 200_000
    const x = Array.from({ length: n }, (_, i) => Math.floor(i / 3))
    const y = Array.from({ length: n }, (_, i) => Math.floor(i / 7))
    expect(kendallTau(x, y)).toMatchObject({ discordant: 0, tau: expect.any(Number) })
    expect(kendallTauB(x, y)).toBeGreaterThan(0.99)
  })
})
