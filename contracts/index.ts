export * from './ids.ts'
export * from './errors.ts'
export * from './schemas.ts'
export * from './token.ts'
