/**
 * What applies when no layer sets a value. Each fails closed: no network, no binary changes,
 * no extra environment variables, one approval by someone other than the requester/producer.
 * A default is not a layer: a layer that sets the value replaces it (and is merged deny-wins
 * with the other layers that set it), so operators pin stricter values in the server layer.
 */
export const POLICY_DEFAULTS = {
  network: 'disabled',
  binaryChanges: false,
  sandbox: 'preferred',
  approvals: 1,
  requireDistinctApprover: true,
  /** A moved target is re-validated: the patch must apply there and the validators pass again. */
  onBaseMoved: 'revalidate',
} as const;
