import { readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { AasError, isAasError } from '../kernel/index.js';
import { type AgentManifest, isAgentId } from './agent-manifest.js';
import { isManifestExtension, loadManifestFile, type ManifestCheck } from './load-manifest-file.js';

export interface AgentRegistry {
  /**
   * The manifest for `id`; AGENT_UNKNOWN (naming the known ids) when there is none, and the
   * manifest's own MANIFEST_INVALID when the file defining `id` is invalid.
   */
  get(id: string): AgentManifest;
  /** Every registered manifest, sorted by id. */
  list(): readonly AgentManifest[];
  /** Built-in agents whose program this host lacks, sorted by id. */
  unavailable(): readonly UnavailableAgent[];
  /** Manifest files that define no agent, and why, sorted by file. */
  invalid(): readonly InvalidManifest[];
}

/** A manifest file that was refused: no agent comes from it. */
export interface InvalidManifest {
  readonly file: string;
  /** The agent id the file stands for (its name), when that is an agent id at all. */
  readonly id: string | null;
  readonly error: AasError;
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
  /** Holds each manifest file to what this context cannot judge (its policy layer). */
  readonly check?: ManifestCheck;
}

/**
 * Builds the registry once. A manifest file that is invalid (unreadable, failing its schema or
 * `check`, a second definition of an id, a redefinition of a built-in agent) defines no agent:
 * it is listed by `invalid()`, and `get` of the id it stands for throws its MANIFEST_INVALID,
 * so a job naming that agent fails closed with the file and field to fix. The others serve as
 * usual: one operator's typo in one file does not stop every command of the installation.
 * Built-ins are never overridden — a site that wants a different `mock` gives it a new id — so
 * the id a job names always means one thing. An id defined twice serves neither definition.
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
  const invalid: InvalidManifest[] = [];
  const refuse = (file: string, error: AasError) => {
    const stem = basename(file, extname(file));
    invalid.push({ file, id: isAgentId(stem) ? stem : null, error });
  };

  for (const dir of options.dirs) {
    for (const file of await manifestFilesIn(dir)) {
      let manifest: AgentManifest;
      try {
        manifest = await loadManifestFile(file, options.check ? { check: options.check } : {});
      } catch (thrown) {
        if (!isAasError(thrown)) throw thrown;
        refuse(file, thrown);
        continue;
      }
      const existing = byId.get(manifest.id);
      if (existing !== undefined) {
        const builtin = existing.source === 'built-in';
        refuse(
          file,
          new AasError(
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
          ),
        );
        // Neither definition of an id defined twice: which one a job meant is unknown.
        if (!builtin) byId.delete(manifest.id);
        continue;
      }
      byId.set(manifest.id, { manifest: freezeManifest(manifest), source: file });
      // A site's own manifest may stand in for a built-in CLI agent this host lacks (installed
      // somewhere AAS does not look, or needing more read-only paths).
      missing.delete(manifest.id);
    }
  }
  // An id whose file is invalid is refused with that file's error, even where a built-in CLI
  // agent of that id is missing here: the file is what the operator meant to serve it.
  const refusedIds = new Map<string, AasError>();
  for (const entry of invalid) {
    if (entry.id !== null && byId.get(entry.id)?.source !== 'built-in') {
      if (!refusedIds.has(entry.id)) refusedIds.set(entry.id, entry.error);
      byId.delete(entry.id);
      missing.delete(entry.id);
    }
  }

  const sorted = [...byId.values()]
    .map((entry) => entry.manifest)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const known = sorted.map((manifest) => manifest.id);

  return {
    get(id: string): AgentManifest {
      const refused = refusedIds.get(id);
      if (refused !== undefined) throw refused;
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
    invalid: () => [...invalid].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0)),
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
