import { ERROR_CODES, type ErrorCode } from '../../contracts/index.ts'

/** An error that is the client's to fix (or to wait out); becomes `{ error: { code, message, field } }`. */
export class ApiError extends Error {
  readonly status: number
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message)
    this.name = 'ApiError'
    this.status = ERROR_CODES[code]
  }
}
