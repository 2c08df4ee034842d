import { fileURLToPath } from 'node:url';

/**
 * What a sandboxed process needs to see, read-only, to run one of AAS's own scripts (the
 * network bridge, the mock agent): the package's `package.json` (it makes `.js` files ES
 * modules), the compiled `dist/` (or `src/` when running from source under tsx) and
 * `node_modules/` (tsx itself, from source). Never the package root: it may hold `.aas/`.
 */
export function ownInstallReadOnlyPaths(): string[] {
  const here = import.meta.url;
  const root = new URL('../../', here);
  const code = here.endsWith('.ts') ? 'src' : 'dist';
  return [
    fileURLToPath(new URL('package.json', root)),
    fileURLToPath(new URL(code, root)),
    fileURLToPath(new URL('node_modules', root)),
  ];
}
