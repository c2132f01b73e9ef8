import { createMiddleware } from 'hono/factory'

/**
 * Adds `Server-Timing: edge;dur=<ms>` to every answer: the time this worker spent on the request, from its
 * handler starting to its answer being ready. Next to a client's own measurement it tells time queued before
 * the worker ran from time spent in it (and, in `core;dur`, time waiting for core).
 *
 * @example
 * ```ts
 * app.use('*', serverTiming())
 * ```
 */
export const serverTiming = () =>
  createMiddleware(async function serverTiming(c, next) {
    const started = performance.now()
    await next()
    // Date-based in workerd (timers only advance on I/O), so this is wall time spent here, I/O included.
    c.res.headers.append('server-timing', `edge;dur=${Math.round((performance.now() - started) * 10) / 10}`)
  })
