import { deepFreeze } from './deep-freeze.js';
import type { NamedLayer } from './effective-policy.js';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/**
 * The built-in floor, merged first into every policy. It only forbids and caps, so no other
 * layer can loosen it: git metadata, the AAS data dir, keys and dotenv files anywhere
 * (including the repository root), logs and dependency folders are never promoted.
 * It leaves network, binary changes, sandbox and promotion unset on purpose: their defaults
 * apply only when no layer speaks (see mergePolicy), and a default is not a rule to report.
 */
export const FLOOR_LAYER: NamedLayer = deepFreeze({
  name: 'floor',
  source: 'built-in',
  layer: {
    paths: {
      deny: [
        '.git/**',
        '**/.git/**',
        '.aas/**',
        // Case-insensitive on purpose: `.ENV` is `.env` on a case-insensitive checkout
        // (macOS, Windows), and `server.PEM` is key material under another spelling.
        '**/*.[pP][eE][mM]',
        '**/*.[kK][eE][yY]',
        '**/.[eE][nN][vV]*',
        'logs/**',
        'node_modules/**',
        '**/node_modules/**',
      ],
      runtime: [
        'logs/**',
        'node_modules/**',
        '**/node_modules/**',
        '**/__pycache__/**',
        '**/*.pyc',
        '.pytest_cache/**',
        '**/.pytest_cache/**',
        '**/.DS_Store',
        '.aas/**',
        'coverage/**',
      ],
    },
    limits: {
      timeoutSec: 3600,
      maxChangedFiles: 500,
      maxPatchLines: 50_000,
      maxOutputBytes: 16 * MIB,
      cpuSec: 3600,
      maxProcesses: 256,
      maxMemoryBytes: 8 * GIB,
      maxFileBytes: 256 * MIB,
      maxWorkspaceGrowthBytes: 1024 * MIB,
    },
  },
});
