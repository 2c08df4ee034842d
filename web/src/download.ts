import { fetchWithToken } from './api';

/** Downloads an authenticated resource as a file (a plain link could not carry the token). */
export async function downloadWithToken(path: string, filename: string): Promise<string | null> {
  const response = await fetchWithToken(path);
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { message?: string } | null;
    return body?.message ?? `the server answered ${response.status}`;
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return null;
}
