import { describe, expect, it } from 'vitest'
import { BoundedMap } from './bounded-map.ts'

describe('when a bounded map is full', () => {
  it('should forget the oldest entry first and never hold more than its bound', () => {
    const map = new BoundedMap<string, number>(3)
    for (const [i, key] of ['a', 'b', 'c', 'd'].entries()) map.set(key, i)
    expect(map.size).toBe(3)
    expect(map.get('a')).toBeUndefined()
    expect([map.get('b'), map.get('c'), map.get('d')]).toEqual([1, 2, 3])
    map.set('b', 9)
    expect(map.size).toBe(3)
    expect(map.get('b')).toBe(9)
  })
})
