/**
 * A place where a run stops as if its process were frozen: the run calls `freeze()` there, the test awaits
 * `frozen` (the run got there), does what it needs meanwhile, then `thaw()` lets the run go on.
 */
export interface FreezePoint {
  freeze(): Promise<void>
  frozen: Promise<void>
  thaw(): void
}

export function freezePoint(): FreezePoint {
  let reached!: () => void
  let thaw!: () => void
  const frozen = new Promise<void>((resolve) => (reached = resolve))
  const thawed = new Promise<void>((resolve) => (thaw = resolve))
  return {
    frozen,
    thaw,
    freeze: () => {
      reached()
      return thawed
    },
  }
}
