import type { PromotionRecord } from '../store/index.js';

/** What a promotion record's `detail` holds, beside its columns. */
export interface PromotionDetail {
  readonly checks: readonly {
    readonly name: string;
    readonly ok: boolean;
    readonly detail: string;
  }[];
  readonly fallbacks: readonly {
    readonly from: string;
    readonly to: string;
    readonly reason: string;
  }[];
  /** The approvals that counted when the promotion started. */
  readonly approvalIds?: readonly string[];
  /** The commit the promotion's own commit was built on. */
  readonly parent?: string;
  /** Digest of the statement signed before the commit (its `AAS-Attestation` trailer). */
  readonly provenanceSha256?: string;
  readonly prError?: string | null;
  /**
   * Why the promotion stopped the last time it was tried (what `promotion.failed` says), until
   * the next try passes its preflight: what a person fixes before promoting again.
   */
  readonly lastFailure?: PromotionFailure | null;
}

export interface PromotionFailure {
  /** The promotion's state when it stopped (`committed`: not pushed; `pushed`: no PR yet). */
  readonly step: string;
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
  readonly at: string;
}

function failureOf(value: unknown): PromotionFailure | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { step, code, message, hint, at } = value as Record<string, unknown>;
  if (typeof step !== 'string' || typeof code !== 'string' || typeof message !== 'string') {
    return undefined;
  }
  return {
    step,
    code,
    message,
    ...(typeof hint === 'string' ? { hint } : {}),
    at: typeof at === 'string' ? at : '',
  };
}

export function detailOf(promotion: PromotionRecord): PromotionDetail {
  const detail = promotion.detail as Partial<PromotionDetail> | null;
  const strings = (value: unknown) =>
    Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  return {
    checks: Array.isArray(detail?.checks) ? detail.checks : [],
    fallbacks: Array.isArray(detail?.fallbacks) ? detail.fallbacks : [],
    ...(Array.isArray(detail?.approvalIds) ? { approvalIds: strings(detail.approvalIds) } : {}),
    ...(typeof detail?.parent === 'string' ? { parent: detail.parent } : {}),
    ...(typeof detail?.provenanceSha256 === 'string'
      ? { provenanceSha256: detail.provenanceSha256 }
      : {}),
    ...(typeof detail?.prError === 'string' ? { prError: detail.prError } : {}),
    ...(failureOf(detail?.lastFailure) === undefined
      ? {}
      : { lastFailure: failureOf(detail?.lastFailure) }),
  };
}
