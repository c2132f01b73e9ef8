export class ScriptLoaderError extends Error {
  constructor(
    reason: string,
    readonly path: string,
    readonly line: number,
    readonly includedFrom?: string,
  ) {
    super(`${reason} (${path}${line ? `:${line}` : ''}${includedFrom ? `, included from ${includedFrom}` : ''})`)
    this.name = 'ScriptLoaderError'
  }
}
