import type { EffectivePolicy } from './effective-policy.js';

/** May the agent use this tool? No layer listing tools means tools are not restricted by policy. */
export function allowsTool(policy: EffectivePolicy, name: string): boolean {
  return policy.tools === null || policy.tools.includes(name);
}

/**
 * May this environment variable pass from the host into the sandbox? Unlike tools, no list
 * means no variable: the host environment holds credentials, and a secret must never reach
 * an agent because nobody thought to write a list. (The sandbox still sets its own variables,
 * such as the AEP_* contract and a minimal PATH; this decides only what is copied from the host.)
 */
export function allowsEnv(policy: EffectivePolicy, name: string): boolean {
  return policy.envAllow?.includes(name) ?? false;
}
