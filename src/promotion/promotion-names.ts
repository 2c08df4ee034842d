/** `aas/<12 hex>`: the random half of the session id, unique and stable across retries. */
export function branchNameOf(prefix: string, sessionId: string): string {
  const short = sessionId.replace(/^ses_/, '').slice(-12);
  return `${prefix.endsWith('/') || prefix === '' ? prefix : `${prefix}/`}${short}`;
}
