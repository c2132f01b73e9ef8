import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { OrderId, SaleId } from '../../../contracts/index.ts'
import { handleError } from '../../app.ts'
import { pathParams } from './index.ts'

const app = new Hono().get('/s/:saleId/o/:orderId', pathParams({ saleId: SaleId, orderId: OrderId }), (c) =>
  c.json(c.req.param()),
)
app.onError(handleError)

const ORDER = `ord_${'a'.repeat(32)}`

describe('when every parameter is valid', () => {
  it('should reach the handler', async () => {
    const res = await app.request(`/s/spring-drop/o/${ORDER}`)

    expect(await res.json()).toEqual({ saleId: 'spring-drop', orderId: ORDER })
  })
})

describe('when a parameter is invalid', () => {
  it('should answer 400 invalid_path naming it', async () => {
    const badSale = await app.request(`/s/Spring_Drop/o/${ORDER}`)
    const badOrder = await app.request('/s/spring-drop/o/ord_xyz')

    expect(badSale.status).toBe(400)
    expect(await badSale.json()).toMatchObject({ error: { code: 'invalid_path', field: 'saleId' } })
    expect(await badOrder.json()).toMatchObject({ error: { code: 'invalid_path', field: 'orderId' } })
  })
})
