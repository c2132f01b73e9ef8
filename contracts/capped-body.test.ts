import { describe, expect, it } from 'vitest'
import { readCappedStream } from './capped-body.ts'

/** A stream of `chunks` chunks of `size` bytes each that records whether it was cancelled and how far it was read. */
function chunked(chunks: number, size: number) {
  const seen = { pulled: 0, cancelled: false }
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (seen.pulled === chunks) return controller.close()
      seen.pulled++
      controller.enqueue(new Uint8Array(size).fill(seen.pulled))
    },
    cancel() {
      seen.cancelled = true
    },
  })
  return { stream, seen }
}

describe('readCappedStream', () => {
  it('should return every byte of a body within the cap, in order', async () => {
    const { stream } = chunked(3, 4)
    expect(Array.from((await readCappedStream(stream, 12))!)).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3])
  })

  it('should answer null past the cap and cancel the stream without reading the rest', async () => {
    const { stream, seen } = chunked(1_000, 1024)
    expect(await readCappedStream(stream, 4096)).toBeNull()
    expect(seen.cancelled).toBe(true)
    expect(seen.pulled).toBeLessThan(10)
  })

  it('should read a missing body as empty', async () => {
    expect((await readCappedStream(null, 10))!.byteLength).toBe(0)
  })
})
