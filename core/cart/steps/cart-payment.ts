/**
 * The drop checkout's payment steps, run for a cart order: same ids (capture reads the authorization by it),
 * same gateway calls, keys and compensations.
 */
import { authorizePaymentStep, authorizePaymentStepId } from '../../checkout/steps/authorize-payment.ts'
import { capturePaymentStep, capturePaymentStepId } from '../../checkout/steps/capture-payment.ts'
import { defineStep } from '../../saga/saga.ts'
import { asPayment, type CartCheckoutDeps, type CartCheckoutInput } from '../deps.ts'

/** Holds the shopper's funds for the quote's total. Undo: the authorization voided. */
export const authorizeCartPaymentStep = defineStep(
  authorizePaymentStepId,
  async (input: CartCheckoutInput, ctx: { deps: CartCheckoutDeps; results: Record<string, unknown> }) =>
    authorizePaymentStep.invoke(asPayment(input), ctx),
  async (undo: unknown, deps: CartCheckoutDeps, failure: string) =>
    authorizePaymentStep.compensate?.(undo, deps, failure),
)

/** Charges the authorized amount once; forward-only (after the pivot). */
export const captureCartPaymentStep = defineStep(
  capturePaymentStepId,
  async (input: CartCheckoutInput, ctx: { deps: CartCheckoutDeps; results: Record<string, unknown> }) =>
    capturePaymentStep.invoke(asPayment(input), ctx),
)
