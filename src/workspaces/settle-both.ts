/**
 * `Promise.all` for two git processes started side by side, except that it rejects only once
 * both have settled: the caller's cleanup (removing a temporary index) must not run while the
 * other process may still be reading what it removes.
 */
export async function settleBoth<A, B>(first: Promise<A>, second: Promise<B>): Promise<[A, B]> {
  const [a, b] = await Promise.allSettled([first, second]);
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  return [a.value, b.value];
}
