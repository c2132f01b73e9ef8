/**
 * Issue 9: connection reuse between core and the edge, in both directions.
 * - edge -> core: workerd pools connections to core and reuses them without reading Keep-Alive hints, so core
 *   must not close an idle connection first (Node's default closes it after 5 s).
 * - core -> edge: workerd closes idle connections after about 5 s; core's reporter must drop them sooner, and
 *   send again on a fresh connection when one breaks under a request.
 */
import { createServer, type Server } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestCore, type TestCore } from '../../test/support/core.ts'
import { RoomReporter } from './room-reporter.ts'

const NODE_DEFAULT_KEEP_ALIVE_MS = 5_000

/** Sends one keep-alive request on `socket` and resolves with the status line of the answer. */
function ask(socket: Socket, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      socket.off('close', onClose)
      resolve(String(chunk).split('\r\n')[0]!)
    }
    const onClose = () => reject(new Error('the server closed the connection'))
    socket.once('data', onData)
    socket.once('close', onClose)
    socket.write(`GET ${path} HTTP/1.1\r\nHost: core\r\nConnection: keep-alive\r\n\r\n`)
  })
}

describe('when the edge reuses an idle connection to core', () => {
  let core: TestCore
  beforeAll(async () => {
    core = await startTestCore({ HOST: '127.0.0.1' }, { listen: true })
  })
  afterAll(async () => {
    await core?.destroy()
  })

  it("should keep it open past Node's default keep-alive and answer on it", { timeout: 30_000 }, async () => {
    const { port } = new URL(core.url!)
    const socket = connect(Number(port), '127.0.0.1')
    let closedAt: number | null = null
    socket.on('close', () => (closedAt = Date.now()))
    expect(await ask(socket, '/healthz')).toBe('HTTP/1.1 200 OK')
    await sleep(NODE_DEFAULT_KEEP_ALIVE_MS + 1_500)
    expect(closedAt).toBeNull()
    expect(await ask(socket, '/healthz')).toBe('HTTP/1.1 200 OK')
    socket.destroy()
  })
})

describe('when core reports token outcomes to the edge', () => {
  let server: Server
  let url = ''
  const connections: Socket[] = []
  /** Requests seen, and whether the edge should drop the next request that arrives on a reused socket. */
  let requests = 0
  let dropReused = false
  const served = new WeakMap<Socket, number>()

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests++
      const n = (served.get(req.socket) ?? 0) + 1
      served.set(req.socket, n)
      req.resume()
      req.on('end', () => {
        if (dropReused && n > 1) {
          // What a racing idle close looks like from core: the request was written, the socket went away.
          dropReused = false
          req.socket.destroy()
          return
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"applied":1}')
      })
    })
    // Like workerd: no Keep-Alive hint in the answers, so the client's own idle timeout decides.
    server.keepAliveTimeout = 0
    server.on('connection', (socket) => connections.push(socket))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  const outcome = [{ tid: 'tok_aaaaaaaaaaaaaaaa', gen: 1, outcome: 'sold' as const }]

  it('should send again on a fresh connection when the reused one breaks under the request', async () => {
    const reporter = new RoomReporter(url, 'x'.repeat(20))
    dropReused = true
    // Each report must succeed; one of them lands on a reused connection that breaks under it.
    for (let i = 0; i < 5 && dropReused; i++) await reporter.report('sale-1', outcome)
    expect(dropReused).toBe(false)
    await reporter.report('sale-1', outcome)
    await reporter.close()
  })

  it('should not keep an idle connection as long as workerd does (about 5 s)', { timeout: 30_000 }, async () => {
    const reporter = new RoomReporter(url, 'x'.repeat(20))
    for (let i = 0; i < 3; i++) await reporter.report('sale-2', outcome)
    const warm = connections.length
    const seen = requests
    await sleep(3_000)
    await reporter.report('sale-2', outcome)
    expect(requests - seen).toBe(1)
    // The pooled connection was dropped on core's side well before workerd's idle close.
    expect(connections.length - warm).toBe(1)
    await reporter.close()
  })
})
