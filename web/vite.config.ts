import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The panel is built into dist/panel, which `aas start` serves at /panel/. Everything it needs
 * is bundled: no font, icon or script is fetched from anywhere but the server itself.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/panel/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/panel', import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
    // highlight.js languages are registered one by one; the app stays one small chunk.
    chunkSizeWarningLimit: 600,
  },
});
