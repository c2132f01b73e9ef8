/** `'sha256-…'`: the CSP source that lets exactly this inline script or style run. */
async function inlineSource(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  return `'sha256-${btoa(String.fromCharCode(...new Uint8Array(digest)))}'`
}

/**
 * A page's Content-Security-Policy, computed once per isolate: nothing runs but the page's own inline `script`
 * and `style`; `directives` follow (connect-src, img-src, form-action, ...).
 */
export function contentSecurityPolicy(script: string, style: string, directives: string[]): () => Promise<string> {
  let policy: Promise<string> | undefined
  return () =>
    (policy ??= (async () =>
      [
        `default-src 'none'`,
        `script-src ${await inlineSource(script)}`,
        `style-src ${await inlineSource(style)}`,
        ...directives,
      ].join('; '))())
}
