/**
 * The API token the user pasted, kept in this tab's session storage only: it is gone when the
 * tab closes, and signing out clears it at once.
 */
const KEY = 'aas.token';

export function readToken(): string | null {
  return sessionStorage.getItem(KEY);
}

export function saveToken(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(KEY);
}
