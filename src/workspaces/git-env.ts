/** Where git is looked up when the caller does not say: the usual system locations, nothing user-writable. */
export const DEFAULT_GIT_SEARCH_PATH = '/usr/local/bin:/usr/bin:/bin';

/** The git-relevant parts of one invocation's environment. Paths must be absolute. */
export interface GitEnvOptions {
  readonly searchPath: string;
  /** `GIT_DIR`; unset means discovery from the cwd (only used to locate a user's repository). */
  readonly gitDir?: string;
  readonly workTree?: string;
  readonly indexFile?: string;
  /** Redirects every object write (the dirty-base snapshot writes into the run's private git dir). */
  readonly objectDirectory?: string;
  readonly alternateObjectDirectories?: readonly string[];
  /** `GIT_LITERAL_PATHSPECS=1`: agent-chosen file names such as `*` or `:(top)` stay plain names. */
  readonly literalPathspecs?: boolean;
  /** Extra variables (commit identity and dates); never secrets, never inherited. */
  readonly extra?: Readonly<Record<string, string>>;
}

/**
 * The environment of every git process AAS starts, built from nothing rather than filtered
 * from the host environment: no system or global config, no system attributes, no prompts, no pager,
 * no replace refs, C locale (stable messages), UTC. HOME and XDG_CONFIG_HOME point nowhere so
 * the default `~/.config/git/{ignore,attributes}` of the host user cannot leak in either.
 */
export function gitEnv(options: GitEnvOptions): Record<string, string> {
  const env: Record<string, string> = {
    PATH: options.searchPath,
    HOME: '/nonexistent',
    XDG_CONFIG_HOME: '/nonexistent',
    LC_ALL: 'C',
    LANG: 'C',
    TZ: 'UTC',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_ATTR_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    // Read-only commands (status) must not refresh and rewrite the user's index behind their back.
    GIT_OPTIONAL_LOCKS: '0',
    GIT_NO_REPLACE_OBJECTS: '1',
    GIT_PAGER: 'cat',
    PAGER: 'cat',
  };
  if (options.gitDir !== undefined) env.GIT_DIR = options.gitDir;
  if (options.workTree !== undefined) env.GIT_WORK_TREE = options.workTree;
  if (options.indexFile !== undefined) env.GIT_INDEX_FILE = options.indexFile;
  if (options.objectDirectory !== undefined) env.GIT_OBJECT_DIRECTORY = options.objectDirectory;
  if (
    options.alternateObjectDirectories !== undefined &&
    options.alternateObjectDirectories.length > 0
  ) {
    env.GIT_ALTERNATE_OBJECT_DIRECTORIES = options.alternateObjectDirectories.join(':');
  }
  if (options.literalPathspecs === true) env.GIT_LITERAL_PATHSPECS = '1';
  return { ...env, ...options.extra };
}

/**
 * `-c` overrides placed before every subcommand. They beat any repository config, so even a
 * user's own `.git/config` cannot make AAS run a hook, an fsmonitor daemon, a signing program
 * or a network transport. `core.quotePath=false` keeps unicode paths readable in `-z`-less output.
 */
export const HARDENED_GIT_CONFIG: readonly string[] = [
  'core.hooksPath=/dev/null',
  'core.fsmonitor=false',
  'core.quotePath=false',
  'core.untrackedCache=false',
  'core.splitIndex=false',
  'core.attributesFile=/dev/null',
  'commit.gpgSign=false',
  'protocol.allow=never',
  'gc.auto=0',
  'maintenance.auto=false',
  'diff.suppressBlankEmpty=false',
].flatMap((setting) => ['-c', setting]);
