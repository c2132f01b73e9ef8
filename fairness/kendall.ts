/**
 * Kendall's tau-b between two paired rankings, with ties, in O(n log n) (Knight's algorithm: sort by x then y,
 * count the inversions left in y with a merge sort). 1 = the same order, -1 = reversed; pairs tied in x or in
 * y count for neither side.
 */
export type KendallTau = {
  /** null with fewer than two pairs, or when every pair is tied in x or in y. */
  tau: number | null
  concordant: number
  discordant: number
  /** Pairs tied in x only, in y only, in both. */
  tiedX: number
  tiedY: number
  tiedBoth: number
}

/** Pairs within runs of equal keys in an array sorted by `same`. */
function tiedPairs<T>(sorted: T[], same: (a: T, b: T) => boolean): number {
  let pairs = 0
  let run = 1
  for (let i = 1; i <= sorted.length; i++) {
    if (i < sorted.length && same(sorted[i - 1]!, sorted[i]!)) run++
    else {
      pairs += (run * (run - 1)) / 2
      run = 1
    }
  }
  return pairs
}

/** Sorts `ys` ascending in place and returns how many pairs it had out of order (i < j, ys[i] > ys[j]). */
function inversions(ys: number[]): number {
  const buffer = new Array<number>(ys.length)
  let count = 0
  for (let width = 1; width < ys.length; width *= 2) {
    for (let lo = 0; lo < ys.length - width; lo += 2 * width) {
      const mid = lo + width
      const hi = Math.min(lo + 2 * width, ys.length)
      let i = lo
      let j = mid
      let k = lo
      while (i < mid && j < hi) {
        if (ys[i]! <= ys[j]!) buffer[k++] = ys[i++]!
        else {
          count += mid - i
          buffer[k++] = ys[j++]!
        }
      }
      while (i < mid) buffer[k++] = ys[i++]!
      while (j < hi) buffer[k++] = ys[j++]!
      for (let m = lo; m < hi; m++) ys[m] = buffer[m]!
    }
  }
  return count
}

export function kendallTau(x: number[], y: number[]): KendallTau {
  const n = Math.min(x.length, y.length)
  const pairs = Array.from({ length: n }, (_, i) => [x[i]!, y[i]!] as const)
  pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  const all = (n * (n - 1)) / 2
  const inX = tiedPairs(pairs, (a, b) => a[0] === b[0])
  const inBoth = tiedPairs(pairs, (a, b) => a[0] === b[0] && a[1] === b[1])
  const ys = pairs.map((p) => p[1])
  const discordant = inversions(ys)
  const inY = tiedPairs(ys, (a, b) => a === b)
  const concordant = all - inX - inY + inBoth - discordant
  const denominator = Math.sqrt((all - inX) * (all - inY))
  return {
    tau: n < 2 || denominator === 0 ? null : (concordant - discordant) / denominator,
    concordant,
    discordant,
    tiedX: inX - inBoth,
    tiedY: inY - inBoth,
    tiedBoth: inBoth,
  }
}

/** Just tau-b (see `kendallTau`). */
export function kendallTauB(x: number[], y: number[]): number | null {
  return kendallTau(x, y).tau
}
