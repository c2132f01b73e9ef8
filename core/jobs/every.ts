/**
 * Runs `task` every `ms` on a plain timer, never two runs at once (a slow run skips the ticks it overlaps).
 * For the few periodic jobs that must not live in BullMQ: they watch the Redis BullMQ lives in.
 * Returns a stop function. `ms` 0: never runs.
 */
export function every(ms: number, task: () => Promise<unknown>, onError: (error: Error) => void): () => void {
  if (ms <= 0) return () => {}
  let running = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    task()
      .catch(onError)
      .finally(() => (running = false))
  }, ms)
  timer.unref()
  return () => clearInterval(timer)
}
