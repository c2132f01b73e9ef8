/**
 * A numeric command-line option of a bench script (from `node:util` parseArgs values): a finite number of at
 * least `min` (default 0), or the script exits 64 naming the option.
 */
export function numberOption(values: Record<string, unknown>, name: string, min = 0): number {
  const value = Number(values[name])
  if (!Number.isFinite(value) || value < min) {
    console.error(`--${name} must be a number${min > 0 ? ` of at least ${min}` : ' of 0 or more'}`)
    process.exit(64)
  }
  return value
}
