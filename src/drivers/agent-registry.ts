import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { AasError } from '../kernel/index.js';
import type { AgentManifest } from './agent-manifest.js';
import { isManifestExtension, loadManifestFile } from './load-manifest-file.js';

export interface AgentRegistry {
  /** The manifest for `id`; AGENT_UNKNOWN (naming the known ids) when there is none. */
  get(id: string): AgentManifest;
  /** Every registered manifest, sorted by id. */
  list(): readonly AgentManifest[];
  /** Built-in agents whose program this host lacks, sorted by id. */
  unavailable(): readonly UnavailableAgent[];
}

/** A built-in agent that cannot run here, and what to do about it. */
export interface UnavailableAgent {
  readonly id: string;
  readonly description: string;
  readonly reason: string;
  readonly hint: string;
}

export interface AgentRegistryOptions {
  readonly builtins: readonly AgentManifest[];
  /** Directories of `<id>.yaml|yml|json` manifests, read in order. Missing ones are skipped. */
  readonly dirs: readonly string[];
  /**
   * Built-in agents whose program was not found: asking for one is AGENT_UNAVAILABLE (with
   * what is missing), not AGENT_UNKNOWN, unless a manifest file defines that id itself.
   */
  readonly unavailable?: readonly UnavailableAgent[];
}

/**
 * Builds the registry once, failing closed: one invalid manifest file, two files defining the
 * same id, or a file trying to redefine a built-in agent makes creation throw
 * MANIFEST_INVALID. Built-ins are never overridden — a site that wants a different `mock`
 * gives it a new id — so the id a job names always means one thing.
 *
 * Files whose names start with `.` or `_` are skipped (editor swap files, shared fragments).
 * A directory that does not exist is skipped so a default location can be optional; a path
 * that exists but is not a directory is an error.
 */
export async function createAgentRegistry(options: AgentRegistryOptions): Promise<AgentRegistry> {
  const byId = new Map<string, { manifest: AgentManifest; source: string }>();
  for (const builtin of options.builtins) {
    if (byId.has(builtin.id)) {
      throw new AasError('MANIFEST_INVALID', `built-in agent '${builtin.id}' is defined twice`, {
        field: 'id',
        hint: 'built-in agent ids must be unique',
      });
    }
    byId.set(builtin.id, { manifest: freezeManifest(builtin), source: 'built-in' });
  }
  const missing = new Map((options.unavailable ?? []).map((agent) => [agent.id, agent]));

  for (const dir of options.dirs) {
    for (const file of await manifestFilesIn(dir)) {
      const manifest = await loadManifestFile(file);
      const existing = byId.get(manifest.id);
      if (existing !== undefined) {
        const builtin = existing.source === 'built-in';
        throw new AasError(
          'MANIFEST_INVALID',
          builtin
            ? `agent '${manifest.id}' is a built-in agent and cannot be redefined`
            : `agent '${manifest.id}' is already defined by ${existing.source}`,
          {
            file,
            field: 'id',
            hint: builtin
              ? 'choose a different id for a customised agent'
              : 'keep exactly one manifest per id across all agent directories',
          },
        );
      }
      byId.set(manifest.id, { manifest: freezeManifest(manifest), source: file });
      // A site's own manifest may stand in for a built-in CLI agent this host lacks (installed
      // somewhere AAS does not look, or needing more read-only paths).
      missing.delete(manifest.id);
    }
  }

  const sorted = [...byId.values()]
    .map((entry) => entry.manifest)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const known = sorted.map((manifest) => manifest.id);

  return {
    get(id: string): AgentManifest {
      const entry = byId.get(id);
      const absent = missing.get(id);
      if (entry === undefined && absent !== undefined) {
        throw new AasError('AGENT_UNAVAILABLE', `agent '${id}' cannot run here: ${absent.reason}`, {
          field: 'agent',
          hint: absent.hint,
        });
      }
      if (entry === undefined) {
        throw new AasError('AGENT_UNKNOWN', `no agent with id '${id}' is registered`, {
          field: 'agent',
          hint:
            known.length === 0 ? 'no agents are registered' : `known agents: ${known.join(', ')}`,
        });
      }
      return entry.manifest;
    },
    list: () => sorted,
    unavailable: () =>
      [...missing.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
  };
}

async function manifestFilesIn(dir: string): Promise<string[]> {
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) {
      throw new AasError('MANIFEST_INVALID', 'agent manifest directory is not a directory', {
        file: dir,
        hint: 'point the agents directory at a folder of <id>.yaml files',
      });
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((entry) => !entry.name.startsWith('.') && !entry.name.startsWith('_'))
    .filter((entry) => isManifestExtension(extname(entry.name).toLowerCase()))
    .filter((entry) => entry.isFile() || entry.isSymbolicLink())
    .map((entry) => entry.name)
    .sort()
    .map((name) => join(dir, name));
}

/** Registry entries are shared by every run; nobody may mutate one in place. */
function freezeManifest(manifest: AgentManifest): AgentManifest {
  const copy: AgentManifest = {
    ...manifest,
    args: [...manifest.args],
    env: { ...manifest.env },
    capabilities: [...manifest.capabilities],
  };
  Object.freeze(copy.args);
  Object.freeze(copy.env);
  Object.freeze(copy.capabilities);
  return Object.freeze(copy);
}
