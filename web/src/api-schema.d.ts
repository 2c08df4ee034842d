// Generated from web/openapi.json by `npm run openapi`; do not edit.
export interface paths {
    "/api/v1/sessions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List sessions, newest first, each with its latest run */
        get: operations["listSessions"];
        put?: never;
        /** Submit a job: records a session with one queued run */
        post: operations["submitJob"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/sessions/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A session with its runs and their model spend */
        get: operations["getSession"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/sessions/{id}/verify": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Recompute the session's hash chain and report where it breaks
         * @description What `aas audit verify <id>` checks: every event hashes to its recorded hash, links to the previous one, seqs run without a gap, and the chain ends at the head the session row records; then that the tables agree with the events (`disagreements`). A broken chain or a disagreement is `ok: false` (200), not an error.
         */
        get: operations["verifySession"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/sessions/{id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A page of a session's events, by ascending seq */
        get: operations["readEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/sessions/{id}/events/stream": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Follow a session's events as Server-Sent Events
         * @description Replays the stored events after `Last-Event-ID` (or `after`), then follows new ones. Each frame is `id: <seq>`, `event: <type>`, `data: <event JSON>`; comments keep the connection alive. Reconnecting with the last id received continues without a gap or a duplicate. A token may hold `AAS_MAX_STREAMS_PER_TOKEN` streams open at once (50 by default) and the server `AAS_MAX_STREAMS` (500), counting both kinds: another is `429 TOO_MANY_STREAMS`. A revoked token's streams end within a keep-alive and a half.
         */
        get: operations["streamEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/stream": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Follow changes to any session's status as Server-Sent Events
         * @description One `event: session` frame per status change (queued, running, ready_for_promotion, …) of any session, its `data` the session as `GET /sessions` lists it (SessionListItem); comments keep the connection alive. Changes committed by this server and, on PostgreSQL, those other servers sharing the database commit (relayed through LISTEN/NOTIFY) are carried; quick successive changes may arrive as one frame with the latest state, and nothing is replayed: load the list, then apply the frames, and load it again after reconnecting. An `event: resync` frame (data `{}`) says that this server may have missed changes (its link to the other servers was cut, or a read failed): load the list again. A token may hold `AAS_MAX_STREAMS_PER_TOKEN` streams open at once (50 by default) and the server `AAS_MAX_STREAMS` (500), counting both kinds: another is `429 TOO_MANY_STREAMS`. A revoked token's streams end within a keep-alive and a half.
         */
        get: operations["streamSessions"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A run with its attempts, its model spend and the names of its logs */
        get: operations["getRun"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/patch": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The run's patch (git diff format) */
        get: operations["getRunPatch"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/logs/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One of the run's logs: agent output or a validator's output */
        get: operations["getRunLog"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/policy": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The run's effective policy, explained, with a verdict for each given path
         * @description Read from the `policy.resolved` event the runner recorded when it started the agent (with fallbacks, the latest agent’s), so it is the policy the run was judged under, whatever the policy files say now. Each value names the layers that decided it; each `path` gets the verdict a patch touching it would get. A run whose policy is not resolved yet (queued) is NOT_FOUND with a hint.
         */
        get: operations["getRunPolicy"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancel a run
         * @description A queued run is cancelled at once (`cancelled`); a running one is told to stop through its heartbeat (`cancel_requested`). A finished run is CONFLICT.
         */
        post: operations["cancelRun"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/approvals": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The run's approvals, each with whether it counts and why not */
        get: operations["listRunApprovals"];
        put?: never;
        /**
         * Approve or reject the run's current patch
         * @description Binds the decision to the run, its patch digest, its latest attempt and the target branch. The requester of the run and any identity that produced it are refused (APPROVAL_SELF). A rejection ends the run `blocked` (APPROVAL_REJECTED).
         */
        post: operations["decideRun"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/approvals": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Approval decisions, newest first */
        get: operations["listApprovals"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/promote": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Promote the run: preflight, then patch, branch or draft pull request
         * @description Runs under the target branch’s writer lease. Every preflight check is recorded; a failing one writes nothing (missing approvals move the run to awaiting_approval). A retry of a promotion that stopped half-way finishes it.
         */
        post: operations["promoteRun"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/promotion": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The run's promotion record: state, branch, commit, pull request, checks */
        get: operations["getPromotion"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/attestation": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The signed provenance of a promoted run (DSSE envelope of an in-toto Statement) */
        get: operations["getAttestation"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The installation's public signing keys, to verify attestations offline (no token) */
        get: operations["listKeys"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/schedules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List schedules by name */
        get: operations["listSchedules"];
        put?: never;
        /**
         * Create a schedule: a JobSpec submitted once, every interval, or on a cron
         * @description The job is checked as a submission is (JOB_INVALID naming the field). Every run the schedule fires is requested by the caller. Each slot fires exactly once across all servers sharing the database.
         */
        post: operations["createSchedule"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/schedules/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A schedule with its latest fires */
        get: operations["getSchedule"];
        put?: never;
        post?: never;
        /** Delete a schedule (the sessions it created stay) */
        delete: operations["deleteSchedule"];
        options?: never;
        head?: never;
        /**
         * Change a schedule's name, timing, misfire policy or job
         * @description A new timing starts from now: its first slot is the first one from now on.
         */
        patch: operations["updateSchedule"];
        trace?: never;
    };
    "/api/v1/schedules/{id}/pause": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Pause a schedule: it fires nothing until resumed */
        post: operations["pauseSchedule"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/schedules/{id}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Resume a schedule from its first slot from now on (paused slots are not missed) */
        post: operations["resumeSchedule"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/schedules/{id}/trigger": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Fire a schedule now (its next slot stays as it is)
         * @description Queues a session with one run from the job template, requested by whoever last set the schedule’s job; its history records `schedule.fired` with trigger `manual`. Takes no body.
         */
        post: operations["triggerSchedule"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/schedules/{id}/preview": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The next fire times of a schedule
         * @description From its next fire on; for a paused schedule, from now on (as if resumed).
         */
        get: operations["previewSchedule"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/whoami": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The identity of the calling token */
        get: operations["whoami"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every token, revoked ones included (never a secret or its hash) */
        get: operations["listTokens"];
        put?: never;
        /** Issue a token; its secret is in this response only */
        post: operations["createToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tokens/{idOrName}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Revoke a token; it stops working on its next request */
        delete: operations["revokeToken"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/health": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness and readiness: 200 when the database answers, 503 otherwise */
        get: operations["health"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prometheus metrics */
        get: operations["metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Embedded workers of this server and enrolled remote workers, with their state
         * @description Remote workers are stale after 60 s without a claim or heartbeat, offline after 5 min.
         */
        get: operations["listWorkers"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workers/enrolments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List the enrolments not used yet and not expired: secrets that still register */
        get: operations["listWorkerEnrolments"];
        put?: never;
        /** Create a one-time enrolment secret for a remote worker; shown in this response only */
        post: operations["createWorkerEnrolment"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workers/enrolments/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Withdraw the unused enrolments of a worker name: their secrets no longer register (404 when there is none) */
        delete: operations["withdrawWorkerEnrolments"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workers/register": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Exchange a one-time enrolment secret for the worker credential (once) */
        post: operations["registerWorker"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workers/{idOrName}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Revoke a remote worker; its credential stops working on its next request, and the unused enrolments of its name are withdrawn */
        delete: operations["revokeWorker"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workers/{idOrName}/drain": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Drain a remote worker: it finishes what it holds and gets no new claims until resumed
         * @description Kept with the worker, also across its restarts, until resumed: its claims wait and get nothing, its heartbeats answer `drain: true`, the runs it holds go on. Draining a drained worker changes nothing.
         */
        post: operations["drainWorker"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workers/{idOrName}/resume": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Resume a drained remote worker: its claims are served again
         * @description Ends an administrator's drain: the worker's waiting claims are served again. A worker draining itself (SIGTERM) still stops; started again, it claims at once.
         */
        post: operations["resumeWorker"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workers/claim": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Long-poll for a run this worker can execute: 200 with the lease, 204 when none came */
        post: operations["claimRun"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workers/heartbeat": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Renew every listed lease; per run ok / cancel / lost, and whether to drain */
        post: operations["workerHeartbeat"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workers/runs/{id}/ops": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * One runner operation on a run this worker holds, under the claim's fencing token
         * @description Writes (appendEvents, updateRun, createAttempt, finishAttempt) are numbered by writeSeq per claim and applied once: a repeat answers `duplicate: true` and writes nothing. Only runner events and the fields a runner sets are accepted; a final report naming a patch needs that patch uploaded first. Reads (getRun, listAttempts, modelSpend) see only the held run, its session and its repository.
         */
        post: operations["leaseOperation"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workers/runs/{id}/base-pack": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The held run's base commit with its history as a git pack
         * @description A thin pack against the `have` commits the server knows (the worker completes it with `git index-pack --fix-thin`). The commit is in the `x-aas-base-commit` header.
         */
        get: operations["getBasePack"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/workers/runs/{id}/artifacts/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Upload the held run's patch (`patch`) or a log tail (`<attempt>.<file>`)
         * @description Body: the raw bytes (application/octet-stream). Headers: `x-aas-fencing-token`, `x-aas-sha256` (of the body; a mismatch is refused), `x-aas-original-bytes` (a log cut to its tail: its size before). Replaces an upload of the same name.
         */
        put: operations["putRunArtifact"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/runs/{id}/report": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A remote worker's final report; accepted only with the current fencing token */
        post: operations["reportRun"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        ErrorInput: {
            /** @enum {string} */
            code: "GATES_PASSED" | "HUMAN_REVIEW_REQUESTED" | "INVALID_ARGUMENT" | "CONFIG_INVALID" | "NAME_TAKEN" | "JOB_INVALID" | "POLICY_INVALID" | "MANIFEST_INVALID" | "AGENT_UNKNOWN" | "REPO_NOT_FOUND" | "REPO_NOT_GIT" | "BASE_REF_UNKNOWN" | "BASE_DIRTY" | "NOT_FOUND" | "METHOD_NOT_ALLOWED" | "REQUEST_INVALID" | "REQUEST_TIMEOUT" | "HEADERS_TOO_LARGE" | "PAYLOAD_TOO_LARGE" | "MEDIA_TYPE_UNSUPPORTED" | "TOO_MANY_STREAMS" | "UNAUTHENTICATED" | "FORBIDDEN" | "POLICY_DENIED" | "GATE_FAILED" | "GATE_ERROR" | "EMPTY_PATCH" | "SANDBOX_UNAVAILABLE" | "AGENT_UNAVAILABLE" | "APPROVAL_SELF" | "APPROVAL_REQUIRED" | "APPROVAL_REJECTED" | "PREFLIGHT_FAILED" | "BASE_MOVED" | "BRANCH_EXISTS" | "CREDENTIALS_MISSING" | "AGENT_FAILED" | "AGENT_TIMEOUT" | "BUDGET_EXCEEDED" | "AGENT_OUTPUT_LIMIT" | "AGENT_CPU_LIMIT" | "AGENT_PROCESS_LIMIT" | "AGENT_MEMORY_LIMIT" | "AGENT_FILE_SIZE_LIMIT" | "WORKSPACE_GROWTH_LIMIT" | "DRIVER_RESULT_INVALID" | "PATCH_DIGEST_MISMATCH" | "ATTESTATION_INVALID" | "AUDIT_CHAIN_BROKEN" | "LEASE_FENCED" | "CONFLICT" | "CANCELLED" | "INTERRUPTED" | "PROVIDER_ERROR" | "STORE_UNAVAILABLE" | "SERVER_UNAVAILABLE" | "INTERNAL";
            message: string;
            details: {
                [key: string]: unknown;
            };
        };
        SessionInput: {
            id: string;
            createdAt: string;
            updatedAt: string;
            task: string;
            repo: string;
            agent: string;
            requestedBy: string;
            readonly labels: string[];
            /** @enum {string} */
            status: "queued" | "running" | "ready_for_promotion" | "human_review" | "blocked" | "failed" | "cancelled" | "awaiting_approval" | "promoting" | "promoted";
            reasonCode: string | null;
            lastSeq: number;
            lastHash: string;
        };
        SessionListItemInput: {
            id: string;
            createdAt: string;
            updatedAt: string;
            task: string;
            repo: string;
            agent: string;
            requestedBy: string;
            readonly labels: string[];
            /** @enum {string} */
            status: "queued" | "running" | "ready_for_promotion" | "human_review" | "blocked" | "failed" | "cancelled" | "awaiting_approval" | "promoting" | "promoted";
            reasonCode: string | null;
            lastSeq: number;
            lastHash: string;
            runId: string | null;
        };
        SessionVerificationInput: {
            sessionId: string;
            ok: boolean;
            events: number;
            firstBrokenSeq: number | null;
            kind: ("gap" | "reordered" | "prev-hash-mismatch" | "hash-mismatch" | "head-mismatch" | "wrong-session") | null;
            reason: string | null;
            lastHash: string;
            disagreements: string[];
            tablesChecked: boolean;
        };
        RunPolicyInput: {
            runId: string;
            sessionId: string;
            agentId: string;
            agents: string[];
            seq: number;
            resolvedAt: string;
            layers: {
                name: string;
                source: string;
            }[];
            values: ({
                /** @constant */
                field: "paths.allow";
                value: {
                    layer: string;
                    patterns: string[];
                }[];
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "paths.deny";
                value: {
                    layer: string;
                    pattern: string;
                }[];
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "paths.runtime";
                value: {
                    layer: string;
                    pattern: string;
                }[];
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "network";
                value: {
                    /** @constant */
                    mode: "disabled";
                } | {
                    /** @constant */
                    mode: "full";
                } | {
                    /** @constant */
                    mode: "allowlist";
                    allow: string[];
                    layers: {
                        layer: string;
                        allow: string[];
                    }[];
                };
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "tools";
                value: string[] | null;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "env.allow";
                value: string[] | null;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.timeoutSec";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxChangedFiles";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxPatchLines";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxOutputBytes";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.cpuSec";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxProcesses";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxMemoryBytes";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxFileBytes";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxWorkspaceGrowthBytes";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxCostUsd";
                value: number | null;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxInputTokens";
                value: number | null;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxOutputTokens";
                value: number | null;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "binaryChanges";
                value: boolean;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "sandbox";
                /** @enum {string} */
                value: "required" | "preferred" | "off";
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "promotion.approvals";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "promotion.requireDistinctApprover";
                value: boolean;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "promotion.protectedBranches";
                value: string[];
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "promotion.onBaseMoved";
                /** @enum {string} */
                value: "revalidate" | "block";
                display: string;
                decidedBy: string[];
            })[];
            unrecorded: ("paths.allow" | "paths.deny" | "paths.runtime" | "network" | "tools" | "env.allow" | "limits.timeoutSec" | "limits.maxChangedFiles" | "limits.maxPatchLines" | "limits.maxOutputBytes" | "limits.cpuSec" | "limits.maxProcesses" | "limits.maxMemoryBytes" | "limits.maxFileBytes" | "limits.maxWorkspaceGrowthBytes" | "limits.maxCostUsd" | "limits.maxInputTokens" | "limits.maxOutputTokens" | "binaryChanges" | "sandbox" | "promotion.approvals" | "promotion.requireDistinctApprover" | "promotion.protectedBranches" | "promotion.onBaseMoved")[];
            paths: {
                path: string;
                /** @enum {string} */
                outcome: "allow" | "deny" | "drop";
                decision: {
                    path: string;
                    allowed: boolean;
                    /** @enum {string} */
                    kind: "allowed" | "invalid-path" | "git-metadata" | "denied" | "not-allowed";
                    layer?: string;
                    rule?: string;
                    reason: string;
                };
                runtime: {
                    layer: string;
                    rule: string;
                } | null;
                decidedBy: string[];
            }[];
        };
        RunInput: {
            id: string;
            sessionId: string;
            /** @enum {string} */
            status: "queued" | "running" | "ready_for_promotion" | "human_review" | "blocked" | "failed" | "cancelled" | "awaiting_approval" | "promoting" | "promoted";
            reasonCode: string | null;
            reasonDetail: string | null;
            jobSpec: unknown;
            baseRef: string | null;
            baseCommit: string | null;
            patchSha256: string | null;
            summary: unknown;
            createdAt: string;
            updatedAt: string;
            startedAt: string | null;
            finishedAt: string | null;
            leaseOwner: string | null;
            leaseExpiresAt: string | null;
            version: number;
            repo: string;
            priority: number;
            fencingToken: number;
            claimCount: number;
            maxClaims: number;
            notBefore: string | null;
            cancelRequestedAt: string | null;
            cancelRequestedBy: string | null;
        };
        AttemptInput: {
            id: string;
            runId: string;
            number: number;
            agentId: string;
            /** @enum {string} */
            status: "running" | "succeeded" | "failed" | "blocked";
            reasonCode: string | null;
            startedAt: string;
            finishedAt: string | null;
            detail: unknown;
        };
        ModelSpendInput: {
            calls: number;
            inputTokens: number;
            outputTokens: number;
            cachedInputTokens: number;
            costUsd: number;
        };
        EventInput: {
            sessionId: string;
            seq: number;
            type: string;
            at: string;
            actor: string;
            data: unknown;
            prevHash: string;
            hash: string;
        };
        TokenInput: {
            id: string;
            name: string;
            /** @enum {string} */
            role: "viewer" | "operator" | "approver" | "admin" | "worker";
            createdAt: string;
            createdBy: string;
            revokedAt: string | null;
        };
        IdentityInput: {
            tokenId: string;
            name: string;
            /** @enum {string} */
            role: "viewer" | "operator" | "approver" | "admin" | "worker";
        };
        WorkerInput: {
            id: string;
            /** @enum {string} */
            kind: "embedded" | "remote";
            name: string;
            /** @enum {string} */
            state: "online" | "busy" | "draining" | "stale" | "offline";
            readonly labels: string[];
            capabilities: {
                readonly agents: string[];
                readonly sandbox: string[];
            } | null;
            runId: string | null;
            readonly runIds: string[];
            fencingToken: number | null;
            leaseExpiresAt: string | null;
            lastHeartbeatAt: string | null;
            lastSeenAt: string | null;
            enrolledAt: string | null;
            revokedAt: string | null;
            drainRequested: boolean;
        };
        HealthInput: {
            /** @enum {string} */
            status: "ok" | "degraded";
            database: {
                ok: boolean;
                /** @enum {string} */
                dialect: "sqlite" | "postgres";
                error?: string;
            };
            workers: {
                total: number;
                busy: number;
                draining: number;
            };
        };
        ApprovalInput: {
            id: string;
            runId: string;
            sessionId: string;
            attemptNumber: number;
            patchSha256: string;
            repo: string;
            targetBranch: string;
            /** @enum {string} */
            decision: "approved" | "rejected";
            note: string | null;
            decidedBy: string;
            tokenId: string | null;
            createdAt: string;
            expiresAt: string;
            voidedAt: string | null;
            voidReason: string | null;
            /** @enum {string} */
            state: "standing" | "rejected" | "voided" | "expired";
        };
        PromotionResultInput: {
            runId: string;
            /** @enum {string} */
            status: "queued" | "running" | "ready_for_promotion" | "human_review" | "blocked" | "failed" | "cancelled" | "awaiting_approval" | "promoting" | "promoted";
            requestedMode: string;
            mode: string;
            branch: string | null;
            commitSha: string | null;
            prUrl: string | null;
            attestationSha256: string;
            readonly checks: {
                name: string;
                ok: boolean;
                detail: string;
            }[];
            readonly fallbacks: {
                from: string;
                to: string;
                reason: string;
            }[];
            prError: string | null;
            alreadyPromoted: boolean;
            promotedAt: string;
            promotedBy: string;
        };
        Error: {
            /** @enum {string} */
            code: "GATES_PASSED" | "HUMAN_REVIEW_REQUESTED" | "INVALID_ARGUMENT" | "CONFIG_INVALID" | "NAME_TAKEN" | "JOB_INVALID" | "POLICY_INVALID" | "MANIFEST_INVALID" | "AGENT_UNKNOWN" | "REPO_NOT_FOUND" | "REPO_NOT_GIT" | "BASE_REF_UNKNOWN" | "BASE_DIRTY" | "NOT_FOUND" | "METHOD_NOT_ALLOWED" | "REQUEST_INVALID" | "REQUEST_TIMEOUT" | "HEADERS_TOO_LARGE" | "PAYLOAD_TOO_LARGE" | "MEDIA_TYPE_UNSUPPORTED" | "TOO_MANY_STREAMS" | "UNAUTHENTICATED" | "FORBIDDEN" | "POLICY_DENIED" | "GATE_FAILED" | "GATE_ERROR" | "EMPTY_PATCH" | "SANDBOX_UNAVAILABLE" | "AGENT_UNAVAILABLE" | "APPROVAL_SELF" | "APPROVAL_REQUIRED" | "APPROVAL_REJECTED" | "PREFLIGHT_FAILED" | "BASE_MOVED" | "BRANCH_EXISTS" | "CREDENTIALS_MISSING" | "AGENT_FAILED" | "AGENT_TIMEOUT" | "BUDGET_EXCEEDED" | "AGENT_OUTPUT_LIMIT" | "AGENT_CPU_LIMIT" | "AGENT_PROCESS_LIMIT" | "AGENT_MEMORY_LIMIT" | "AGENT_FILE_SIZE_LIMIT" | "WORKSPACE_GROWTH_LIMIT" | "DRIVER_RESULT_INVALID" | "PATCH_DIGEST_MISMATCH" | "ATTESTATION_INVALID" | "AUDIT_CHAIN_BROKEN" | "LEASE_FENCED" | "CONFLICT" | "CANCELLED" | "INTERRUPTED" | "PROVIDER_ERROR" | "STORE_UNAVAILABLE" | "SERVER_UNAVAILABLE" | "INTERNAL";
            message: string;
            details: {
                [key: string]: unknown;
            };
        };
        Session: {
            id: string;
            createdAt: string;
            updatedAt: string;
            task: string;
            repo: string;
            agent: string;
            requestedBy: string;
            readonly labels: string[];
            /** @enum {string} */
            status: "queued" | "running" | "ready_for_promotion" | "human_review" | "blocked" | "failed" | "cancelled" | "awaiting_approval" | "promoting" | "promoted";
            reasonCode: string | null;
            lastSeq: number;
            lastHash: string;
        };
        SessionListItem: {
            id: string;
            createdAt: string;
            updatedAt: string;
            task: string;
            repo: string;
            agent: string;
            requestedBy: string;
            readonly labels: string[];
            /** @enum {string} */
            status: "queued" | "running" | "ready_for_promotion" | "human_review" | "blocked" | "failed" | "cancelled" | "awaiting_approval" | "promoting" | "promoted";
            reasonCode: string | null;
            lastSeq: number;
            lastHash: string;
            runId: string | null;
        };
        SessionVerification: {
            sessionId: string;
            ok: boolean;
            events: number;
            firstBrokenSeq: number | null;
            kind: ("gap" | "reordered" | "prev-hash-mismatch" | "hash-mismatch" | "head-mismatch" | "wrong-session") | null;
            reason: string | null;
            lastHash: string;
            disagreements: string[];
            tablesChecked: boolean;
        };
        RunPolicy: {
            runId: string;
            sessionId: string;
            agentId: string;
            agents: string[];
            seq: number;
            resolvedAt: string;
            layers: {
                name: string;
                source: string;
            }[];
            values: ({
                /** @constant */
                field: "paths.allow";
                value: {
                    layer: string;
                    patterns: string[];
                }[];
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "paths.deny";
                value: {
                    layer: string;
                    pattern: string;
                }[];
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "paths.runtime";
                value: {
                    layer: string;
                    pattern: string;
                }[];
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "network";
                value: {
                    /** @constant */
                    mode: "disabled";
                } | {
                    /** @constant */
                    mode: "full";
                } | {
                    /** @constant */
                    mode: "allowlist";
                    allow: string[];
                    layers: {
                        layer: string;
                        allow: string[];
                    }[];
                };
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "tools";
                value: string[] | null;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "env.allow";
                value: string[] | null;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.timeoutSec";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxChangedFiles";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxPatchLines";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxOutputBytes";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.cpuSec";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxProcesses";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxMemoryBytes";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxFileBytes";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxWorkspaceGrowthBytes";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxCostUsd";
                value: number | null;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxInputTokens";
                value: number | null;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "limits.maxOutputTokens";
                value: number | null;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "binaryChanges";
                value: boolean;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "sandbox";
                /** @enum {string} */
                value: "required" | "preferred" | "off";
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "promotion.approvals";
                value: number;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "promotion.requireDistinctApprover";
                value: boolean;
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "promotion.protectedBranches";
                value: string[];
                display: string;
                decidedBy: string[];
            } | {
                /** @constant */
                field: "promotion.onBaseMoved";
                /** @enum {string} */
                value: "revalidate" | "block";
                display: string;
                decidedBy: string[];
            })[];
            unrecorded: ("paths.allow" | "paths.deny" | "paths.runtime" | "network" | "tools" | "env.allow" | "limits.timeoutSec" | "limits.maxChangedFiles" | "limits.maxPatchLines" | "limits.maxOutputBytes" | "limits.cpuSec" | "limits.maxProcesses" | "limits.maxMemoryBytes" | "limits.maxFileBytes" | "limits.maxWorkspaceGrowthBytes" | "limits.maxCostUsd" | "limits.maxInputTokens" | "limits.maxOutputTokens" | "binaryChanges" | "sandbox" | "promotion.approvals" | "promotion.requireDistinctApprover" | "promotion.protectedBranches" | "promotion.onBaseMoved")[];
            paths: {
                path: string;
                /** @enum {string} */
                outcome: "allow" | "deny" | "drop";
                decision: {
                    path: string;
                    allowed: boolean;
                    /** @enum {string} */
                    kind: "allowed" | "invalid-path" | "git-metadata" | "denied" | "not-allowed";
                    layer?: string;
                    rule?: string;
                    reason: string;
                };
                runtime: {
                    layer: string;
                    rule: string;
                } | null;
                decidedBy: string[];
            }[];
        };
        Run: {
            id: string;
            sessionId: string;
            /** @enum {string} */
            status: "queued" | "running" | "ready_for_promotion" | "human_review" | "blocked" | "failed" | "cancelled" | "awaiting_approval" | "promoting" | "promoted";
            reasonCode: string | null;
            reasonDetail: string | null;
            jobSpec: unknown;
            baseRef: string | null;
            baseCommit: string | null;
            patchSha256: string | null;
            summary: unknown;
            createdAt: string;
            updatedAt: string;
            startedAt: string | null;
            finishedAt: string | null;
            leaseOwner: string | null;
            leaseExpiresAt: string | null;
            version: number;
            repo: string;
            priority: number;
            fencingToken: number;
            claimCount: number;
            maxClaims: number;
            notBefore: string | null;
            cancelRequestedAt: string | null;
            cancelRequestedBy: string | null;
        };
        Attempt: {
            id: string;
            runId: string;
            number: number;
            agentId: string;
            /** @enum {string} */
            status: "running" | "succeeded" | "failed" | "blocked";
            reasonCode: string | null;
            startedAt: string;
            finishedAt: string | null;
            detail: unknown;
        };
        ModelSpend: {
            calls: number;
            inputTokens: number;
            outputTokens: number;
            cachedInputTokens: number;
            costUsd: number;
        };
        Event: {
            sessionId: string;
            seq: number;
            type: string;
            at: string;
            actor: string;
            data: unknown;
            prevHash: string;
            hash: string;
        };
        Token: {
            id: string;
            name: string;
            /** @enum {string} */
            role: "viewer" | "operator" | "approver" | "admin" | "worker";
            createdAt: string;
            createdBy: string;
            revokedAt: string | null;
        };
        Identity: {
            tokenId: string;
            name: string;
            /** @enum {string} */
            role: "viewer" | "operator" | "approver" | "admin" | "worker";
        };
        Worker: {
            id: string;
            /** @enum {string} */
            kind: "embedded" | "remote";
            name: string;
            /** @enum {string} */
            state: "online" | "busy" | "draining" | "stale" | "offline";
            readonly labels: string[];
            capabilities: {
                readonly agents: string[];
                readonly sandbox: string[];
            } | null;
            runId: string | null;
            readonly runIds: string[];
            fencingToken: number | null;
            leaseExpiresAt: string | null;
            lastHeartbeatAt: string | null;
            lastSeenAt: string | null;
            enrolledAt: string | null;
            revokedAt: string | null;
            drainRequested: boolean;
        };
        Health: {
            /** @enum {string} */
            status: "ok" | "degraded";
            database: {
                ok: boolean;
                /** @enum {string} */
                dialect: "sqlite" | "postgres";
                error?: string;
            };
            workers: {
                total: number;
                busy: number;
                draining: number;
            };
        };
        Approval: {
            id: string;
            runId: string;
            sessionId: string;
            attemptNumber: number;
            patchSha256: string;
            repo: string;
            targetBranch: string;
            /** @enum {string} */
            decision: "approved" | "rejected";
            note: string | null;
            decidedBy: string;
            tokenId: string | null;
            createdAt: string;
            expiresAt: string;
            voidedAt: string | null;
            voidReason: string | null;
            /** @enum {string} */
            state: "standing" | "rejected" | "voided" | "expired";
        };
        PromotionResult: {
            runId: string;
            /** @enum {string} */
            status: "queued" | "running" | "ready_for_promotion" | "human_review" | "blocked" | "failed" | "cancelled" | "awaiting_approval" | "promoting" | "promoted";
            requestedMode: string;
            mode: string;
            branch: string | null;
            commitSha: string | null;
            prUrl: string | null;
            attestationSha256: string;
            readonly checks: {
                name: string;
                ok: boolean;
                detail: string;
            }[];
            readonly fallbacks: {
                from: string;
                to: string;
                reason: string;
            }[];
            prError: string | null;
            alreadyPromoted: boolean;
            promotedAt: string;
            promotedBy: string;
        };
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    listSessions: {
        parameters: {
            query?: {
                status?: "queued" | "running" | "ready_for_promotion" | "human_review" | "blocked" | "failed" | "cancelled" | "awaiting_approval" | "promoting" | "promoted";
                repo?: string;
                agent?: string;
                label?: string;
                requester?: string;
                q?: string;
                cursor?: string;
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["SessionListItem"][];
                        nextCursor: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    submitJob: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    task: string;
                    repo: string;
                    baseRef?: string;
                    agent: string;
                    /** @default [] */
                    fallbackAgents?: string[];
                    policy?: {
                        /** @enum {number} */
                        version?: 1;
                        paths?: {
                            allow?: string[];
                            deny?: string[];
                            runtime?: string[];
                        };
                        network?: ("disabled" | "full") | {
                            allow: string[];
                        };
                        tools?: string[];
                        env?: {
                            allow?: string[];
                        };
                        limits?: {
                            timeoutSec?: number;
                            maxChangedFiles?: number;
                            maxPatchLines?: number;
                            maxOutputBytes?: number;
                            cpuSec?: number;
                            maxProcesses?: number;
                            maxMemoryBytes?: number;
                            maxFileBytes?: number;
                            maxWorkspaceGrowthBytes?: number;
                            maxCostUsd?: number;
                            maxInputTokens?: number;
                            maxOutputTokens?: number;
                        };
                        binaryChanges?: boolean;
                        /** @enum {string} */
                        sandbox?: "required" | "preferred" | "off";
                        promotion?: {
                            approvals?: number;
                            requireDistinctApprover?: boolean;
                            protectedBranches?: string[];
                            /** @enum {string} */
                            onBaseMoved?: "revalidate" | "block";
                        };
                    };
                    /** @default [] */
                    validators?: {
                        name?: string;
                        command: string;
                        /** @default 600 */
                        timeoutSec?: number;
                    }[];
                    /**
                     * @default {
                     *       "mode": "patch"
                     *     }
                     */
                    promotion?: {
                        /**
                         * @default patch
                         * @enum {string}
                         */
                        mode?: "patch" | "branch" | "draft_pr";
                        targetBranch?: string;
                        repository?: string;
                    };
                    /** @default 0 */
                    retries?: number;
                    /** @default 0 */
                    priority?: number;
                    /** @default 1 */
                    interruptRetries?: number;
                    /** @default [] */
                    labels?: string[];
                    /** @default [] */
                    requireLabels?: string[];
                    worker?: string;
                    /** @default false */
                    allowDirtyBase?: boolean;
                    /** @default false */
                    keepWorkspace?: boolean;
                    agentInput?: unknown;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        sessionId: string;
                        runId: string;
                        warnings: {
                            field: string;
                            message: string;
                            hint: string;
                        }[];
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getSession: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        session: components["schemas"]["Session"];
                        runs: components["schemas"]["Run"][];
                        spend: {
                            total: components["schemas"]["ModelSpend"];
                            runs: {
                                runId: string;
                                spend: components["schemas"]["ModelSpend"];
                            }[];
                        };
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    verifySession: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["SessionVerification"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    readEvents: {
        parameters: {
            query?: {
                after?: number;
                limit?: number;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Event"][];
                        nextAfter: number | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    streamEvents: {
        parameters: {
            query?: {
                after?: number;
            };
            header?: {
                "last-event-id"?: string;
            };
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description An event stream */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    streamSessions: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description An event stream of SessionListItem frames and resync frames */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getRun: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        run: components["schemas"]["Run"];
                        attempts: components["schemas"]["Attempt"][];
                        spend: components["schemas"]["ModelSpend"];
                        logs: string[];
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getRunPatch: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The patch */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/x-diff": string;
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getRunLog: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The log */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getRunPolicy: {
        parameters: {
            query?: {
                path?: string | string[];
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RunPolicy"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    cancelRun: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        runId: string;
                        /** @enum {string} */
                        outcome: "cancelled" | "cancel_requested";
                        /** @enum {string} */
                        status: "queued" | "running" | "ready_for_promotion" | "human_review" | "blocked" | "failed" | "cancelled" | "awaiting_approval" | "promoting" | "promoted";
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listRunApprovals: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        runId: string;
                        targetBranch: string;
                        required: number;
                        counted: number;
                        readonly items: {
                            id: string;
                            runId: string;
                            sessionId: string;
                            attemptNumber: number;
                            patchSha256: string;
                            repo: string;
                            targetBranch: string;
                            /** @enum {string} */
                            decision: "approved" | "rejected";
                            note: string | null;
                            decidedBy: string;
                            tokenId: string | null;
                            createdAt: string;
                            expiresAt: string;
                            voidedAt: string | null;
                            voidReason: string | null;
                            /** @enum {string} */
                            state: "standing" | "rejected" | "voided" | "expired";
                            counts: boolean;
                            reason: string;
                        }[];
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    decideRun: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @enum {string} */
                    decision: "approved" | "rejected";
                    /** @default null */
                    note?: string | null;
                    expiresInSec?: number;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        approval: components["schemas"]["Approval"];
                        run: components["schemas"]["Run"];
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listApprovals: {
        parameters: {
            query?: {
                status?: "standing" | "rejected" | "voided" | "expired";
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Approval"][];
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    promoteRun: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @enum {string} */
                    mode?: "patch" | "branch" | "draft_pr";
                } | null;
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PromotionResult"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getPromotion: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        runId: string;
                        sessionId: string;
                        requestedMode: string;
                        mode: string | null;
                        state: string;
                        requestedBy: string;
                        targetBranch: string;
                        branch: string | null;
                        remote: string | null;
                        commitSha: string | null;
                        prUrl: string | null;
                        attestationSha256: string | null;
                        startedAt: string;
                        updatedAt: string;
                        detail: unknown;
                        version: number;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getAttestation: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The envelope, byte for byte as signed and stored */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": unknown;
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listKeys: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        keys: {
                            keyId: string;
                            /** @enum {string} */
                            algorithm: "ed25519";
                            publicKeyPem: string;
                        }[];
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listSchedules: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            id: string;
                            name: string;
                            timing: {
                                /** @enum {string} */
                                kind: "once";
                                at: string;
                            } | {
                                /** @enum {string} */
                                kind: "interval";
                                everySec: number;
                                startAt: string;
                            } | {
                                /** @enum {string} */
                                kind: "cron";
                                cron: string;
                                timezone: string;
                            };
                            /** @enum {string} */
                            misfire: "skip" | "run_once";
                            /** @enum {string} */
                            state: "active" | "paused" | "finished";
                            pausedAt: string | null;
                            nextFireAt: string | null;
                            job: unknown;
                            jobSetBy: string;
                            createdBy: string;
                            createdAt: string;
                            updatedBy: string;
                            updatedAt: string;
                            version: number;
                        }[];
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    name: string;
                    timing: {
                        /** @enum {string} */
                        kind: "once";
                        /** Format: date-time */
                        at: string;
                    } | {
                        /** @enum {string} */
                        kind: "interval";
                        everySec: number;
                        /** Format: date-time */
                        startAt?: string;
                    } | {
                        /** @enum {string} */
                        kind: "cron";
                        cron: string;
                        /** @default UTC */
                        timezone?: string;
                    };
                    /**
                     * @default run_once
                     * @enum {string}
                     */
                    misfire?: "skip" | "run_once";
                    /** @default false */
                    paused?: boolean;
                    job: {
                        task: string;
                        repo: string;
                        baseRef?: string;
                        agent: string;
                        /** @default [] */
                        fallbackAgents?: string[];
                        policy?: {
                            /** @enum {number} */
                            version?: 1;
                            paths?: {
                                allow?: string[];
                                deny?: string[];
                                runtime?: string[];
                            };
                            network?: ("disabled" | "full") | {
                                allow: string[];
                            };
                            tools?: string[];
                            env?: {
                                allow?: string[];
                            };
                            limits?: {
                                timeoutSec?: number;
                                maxChangedFiles?: number;
                                maxPatchLines?: number;
                                maxOutputBytes?: number;
                                cpuSec?: number;
                                maxProcesses?: number;
                                maxMemoryBytes?: number;
                                maxFileBytes?: number;
                                maxWorkspaceGrowthBytes?: number;
                                maxCostUsd?: number;
                                maxInputTokens?: number;
                                maxOutputTokens?: number;
                            };
                            binaryChanges?: boolean;
                            /** @enum {string} */
                            sandbox?: "required" | "preferred" | "off";
                            promotion?: {
                                approvals?: number;
                                requireDistinctApprover?: boolean;
                                protectedBranches?: string[];
                                /** @enum {string} */
                                onBaseMoved?: "revalidate" | "block";
                            };
                        };
                        /** @default [] */
                        validators?: {
                            name?: string;
                            command: string;
                            /** @default 600 */
                            timeoutSec?: number;
                        }[];
                        /**
                         * @default {
                         *       "mode": "patch"
                         *     }
                         */
                        promotion?: {
                            /**
                             * @default patch
                             * @enum {string}
                             */
                            mode?: "patch" | "branch" | "draft_pr";
                            targetBranch?: string;
                            repository?: string;
                        };
                        /** @default 0 */
                        retries?: number;
                        /** @default 0 */
                        priority?: number;
                        /** @default 1 */
                        interruptRetries?: number;
                        /** @default [] */
                        labels?: string[];
                        /** @default [] */
                        requireLabels?: string[];
                        worker?: string;
                        /** @default false */
                        allowDirtyBase?: boolean;
                        /** @default false */
                        keepWorkspace?: boolean;
                        agentInput?: unknown;
                    };
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        name: string;
                        timing: {
                            /** @enum {string} */
                            kind: "once";
                            at: string;
                        } | {
                            /** @enum {string} */
                            kind: "interval";
                            everySec: number;
                            startAt: string;
                        } | {
                            /** @enum {string} */
                            kind: "cron";
                            cron: string;
                            timezone: string;
                        };
                        /** @enum {string} */
                        misfire: "skip" | "run_once";
                        /** @enum {string} */
                        state: "active" | "paused" | "finished";
                        pausedAt: string | null;
                        nextFireAt: string | null;
                        job: unknown;
                        jobSetBy: string;
                        createdBy: string;
                        createdAt: string;
                        updatedBy: string;
                        updatedAt: string;
                        version: number;
                        warnings: {
                            field: string;
                            message: string;
                            hint: string;
                        }[];
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        schedule: {
                            id: string;
                            name: string;
                            timing: {
                                /** @enum {string} */
                                kind: "once";
                                at: string;
                            } | {
                                /** @enum {string} */
                                kind: "interval";
                                everySec: number;
                                startAt: string;
                            } | {
                                /** @enum {string} */
                                kind: "cron";
                                cron: string;
                                timezone: string;
                            };
                            /** @enum {string} */
                            misfire: "skip" | "run_once";
                            /** @enum {string} */
                            state: "active" | "paused" | "finished";
                            pausedAt: string | null;
                            nextFireAt: string | null;
                            job: unknown;
                            jobSetBy: string;
                            createdBy: string;
                            createdAt: string;
                            updatedBy: string;
                            updatedAt: string;
                            version: number;
                        };
                        fires: {
                            scheduleId: string;
                            /** @enum {string} */
                            trigger: "schedule" | "manual";
                            slotAt: string;
                            /** @enum {string} */
                            outcome: "fired" | "skipped";
                            missedSlots: number;
                            sessionId: string | null;
                            runId: string | null;
                            recordedAt: string;
                            recordedBy: string;
                        }[];
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        name: string;
                        timing: {
                            /** @enum {string} */
                            kind: "once";
                            at: string;
                        } | {
                            /** @enum {string} */
                            kind: "interval";
                            everySec: number;
                            startAt: string;
                        } | {
                            /** @enum {string} */
                            kind: "cron";
                            cron: string;
                            timezone: string;
                        };
                        /** @enum {string} */
                        misfire: "skip" | "run_once";
                        /** @enum {string} */
                        state: "active" | "paused" | "finished";
                        pausedAt: string | null;
                        nextFireAt: string | null;
                        job: unknown;
                        jobSetBy: string;
                        createdBy: string;
                        createdAt: string;
                        updatedBy: string;
                        updatedAt: string;
                        version: number;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    updateSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    name?: string;
                    timing?: {
                        /** @enum {string} */
                        kind: "once";
                        /** Format: date-time */
                        at: string;
                    } | {
                        /** @enum {string} */
                        kind: "interval";
                        everySec: number;
                        /** Format: date-time */
                        startAt?: string;
                    } | {
                        /** @enum {string} */
                        kind: "cron";
                        cron: string;
                        /** @default UTC */
                        timezone?: string;
                    };
                    /** @enum {string} */
                    misfire?: "skip" | "run_once";
                    job?: {
                        task: string;
                        repo: string;
                        baseRef?: string;
                        agent: string;
                        /** @default [] */
                        fallbackAgents?: string[];
                        policy?: {
                            /** @enum {number} */
                            version?: 1;
                            paths?: {
                                allow?: string[];
                                deny?: string[];
                                runtime?: string[];
                            };
                            network?: ("disabled" | "full") | {
                                allow: string[];
                            };
                            tools?: string[];
                            env?: {
                                allow?: string[];
                            };
                            limits?: {
                                timeoutSec?: number;
                                maxChangedFiles?: number;
                                maxPatchLines?: number;
                                maxOutputBytes?: number;
                                cpuSec?: number;
                                maxProcesses?: number;
                                maxMemoryBytes?: number;
                                maxFileBytes?: number;
                                maxWorkspaceGrowthBytes?: number;
                                maxCostUsd?: number;
                                maxInputTokens?: number;
                                maxOutputTokens?: number;
                            };
                            binaryChanges?: boolean;
                            /** @enum {string} */
                            sandbox?: "required" | "preferred" | "off";
                            promotion?: {
                                approvals?: number;
                                requireDistinctApprover?: boolean;
                                protectedBranches?: string[];
                                /** @enum {string} */
                                onBaseMoved?: "revalidate" | "block";
                            };
                        };
                        /** @default [] */
                        validators?: {
                            name?: string;
                            command: string;
                            /** @default 600 */
                            timeoutSec?: number;
                        }[];
                        /**
                         * @default {
                         *       "mode": "patch"
                         *     }
                         */
                        promotion?: {
                            /**
                             * @default patch
                             * @enum {string}
                             */
                            mode?: "patch" | "branch" | "draft_pr";
                            targetBranch?: string;
                            repository?: string;
                        };
                        /** @default 0 */
                        retries?: number;
                        /** @default 0 */
                        priority?: number;
                        /** @default 1 */
                        interruptRetries?: number;
                        /** @default [] */
                        labels?: string[];
                        /** @default [] */
                        requireLabels?: string[];
                        worker?: string;
                        /** @default false */
                        allowDirtyBase?: boolean;
                        /** @default false */
                        keepWorkspace?: boolean;
                        agentInput?: unknown;
                    };
                    expectedVersion?: number;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        name: string;
                        timing: {
                            /** @enum {string} */
                            kind: "once";
                            at: string;
                        } | {
                            /** @enum {string} */
                            kind: "interval";
                            everySec: number;
                            startAt: string;
                        } | {
                            /** @enum {string} */
                            kind: "cron";
                            cron: string;
                            timezone: string;
                        };
                        /** @enum {string} */
                        misfire: "skip" | "run_once";
                        /** @enum {string} */
                        state: "active" | "paused" | "finished";
                        pausedAt: string | null;
                        nextFireAt: string | null;
                        job: unknown;
                        jobSetBy: string;
                        createdBy: string;
                        createdAt: string;
                        updatedBy: string;
                        updatedAt: string;
                        version: number;
                        warnings: {
                            field: string;
                            message: string;
                            hint: string;
                        }[];
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    pauseSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        name: string;
                        timing: {
                            /** @enum {string} */
                            kind: "once";
                            at: string;
                        } | {
                            /** @enum {string} */
                            kind: "interval";
                            everySec: number;
                            startAt: string;
                        } | {
                            /** @enum {string} */
                            kind: "cron";
                            cron: string;
                            timezone: string;
                        };
                        /** @enum {string} */
                        misfire: "skip" | "run_once";
                        /** @enum {string} */
                        state: "active" | "paused" | "finished";
                        pausedAt: string | null;
                        nextFireAt: string | null;
                        job: unknown;
                        jobSetBy: string;
                        createdBy: string;
                        createdAt: string;
                        updatedBy: string;
                        updatedAt: string;
                        version: number;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    resumeSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        name: string;
                        timing: {
                            /** @enum {string} */
                            kind: "once";
                            at: string;
                        } | {
                            /** @enum {string} */
                            kind: "interval";
                            everySec: number;
                            startAt: string;
                        } | {
                            /** @enum {string} */
                            kind: "cron";
                            cron: string;
                            timezone: string;
                        };
                        /** @enum {string} */
                        misfire: "skip" | "run_once";
                        /** @enum {string} */
                        state: "active" | "paused" | "finished";
                        pausedAt: string | null;
                        nextFireAt: string | null;
                        job: unknown;
                        jobSetBy: string;
                        createdBy: string;
                        createdAt: string;
                        updatedBy: string;
                        updatedAt: string;
                        version: number;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    triggerSchedule: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        scheduleId: string;
                        sessionId: string;
                        runId: string;
                        slotAt: string;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    previewSchedule: {
        parameters: {
            query?: {
                count?: number;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        scheduleId: string;
                        name: string;
                        times: string[];
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    whoami: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Identity"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listTokens: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Token"][];
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createToken: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    name: string;
                    /** @enum {string} */
                    role: "viewer" | "operator" | "approver" | "admin";
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        token: components["schemas"]["Token"];
                        secret: string;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    revokeToken: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Token"];
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    health: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Health"];
                };
            };
        };
    };
    metrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Prometheus text exposition format */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/plain": string;
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listWorkers: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: components["schemas"]["Worker"][];
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    listWorkerEnrolments: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        items: {
                            id: string;
                            name: string;
                            readonly labels: string[];
                            createdAt: string;
                            createdBy: string;
                            expiresAt: string;
                            usedAt: string | null;
                            workerId: string | null;
                        }[];
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    createWorkerEnrolment: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    name: string;
                    /** @default [] */
                    labels?: string[];
                    /** @default 3600 */
                    ttlSec?: number;
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        enrolment: {
                            id: string;
                            name: string;
                            readonly labels: string[];
                            createdAt: string;
                            createdBy: string;
                            expiresAt: string;
                            usedAt: string | null;
                            workerId: string | null;
                        };
                        secret: string;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    withdrawWorkerEnrolments: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        withdrawn: {
                            id: string;
                            name: string;
                            readonly labels: string[];
                            createdAt: string;
                            createdBy: string;
                            expiresAt: string;
                            usedAt: string | null;
                            workerId: string | null;
                        }[];
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    registerWorker: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    enrolmentSecret: string;
                    capabilities: {
                        readonly agents: string[];
                        readonly sandbox: string[];
                    };
                };
            };
        };
        responses: {
            /** @description Default Response */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        worker: {
                            id: string;
                            name: string;
                            readonly labels: string[];
                            capabilities: {
                                readonly agents: string[];
                                readonly sandbox: string[];
                            };
                            enrolledAt: string;
                            enrolledBy: string;
                            revokedAt: string | null;
                            lastSeenAt: string | null;
                            draining: boolean;
                        };
                        credential: string;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    revokeWorker: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        name: string;
                        readonly labels: string[];
                        capabilities: {
                            readonly agents: string[];
                            readonly sandbox: string[];
                        };
                        enrolledAt: string;
                        enrolledBy: string;
                        revokedAt: string | null;
                        lastSeenAt: string | null;
                        draining: boolean;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    drainWorker: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        name: string;
                        readonly labels: string[];
                        capabilities: {
                            readonly agents: string[];
                            readonly sandbox: string[];
                        };
                        enrolledAt: string;
                        enrolledBy: string;
                        revokedAt: string | null;
                        lastSeenAt: string | null;
                        draining: boolean;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    resumeWorker: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                idOrName: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        id: string;
                        name: string;
                        readonly labels: string[];
                        capabilities: {
                            readonly agents: string[];
                            readonly sandbox: string[];
                        };
                        enrolledAt: string;
                        enrolledBy: string;
                        revokedAt: string | null;
                        lastSeenAt: string | null;
                        draining: boolean;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    claimRun: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** @default 25 */
                    waitSec?: number;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        runId: string;
                        sessionId: string;
                        claim: number;
                        maxClaims: number;
                        jobSpec: unknown;
                        repo: string;
                        baseRef: string | null;
                        baseCommit: string | null;
                        leaseExpiresAt: string;
                        fencingToken: number;
                        leaseMs: number;
                        serverPolicy: {
                            name: string;
                            source: string;
                            layer: unknown;
                        } | null;
                        budgets: {
                            sessionMaxCostUsd?: number;
                            repoDailyMaxCostUsd?: number;
                        };
                        basePackPath: string;
                    };
                };
            };
            /** @description Default Response */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    workerHeartbeat: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    leases: {
                        runId: string;
                        fencingToken: number;
                    }[];
                    draining?: boolean;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        runs: {
                            runId: string;
                            /** @enum {string} */
                            order: "ok" | "cancel" | "lost";
                        }[];
                        drain: boolean;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    leaseOperation: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    fencingToken: number;
                    operation: {
                        /** @enum {string} */
                        op: "appendEvents";
                        writeSeq: number;
                        events: {
                            type: string;
                            at: string;
                            actor: string;
                            data: unknown;
                        }[];
                    } | {
                        /** @enum {string} */
                        op: "updateRun";
                        writeSeq: number;
                        changes: {
                            /** @enum {string} */
                            status?: "queued" | "running" | "ready_for_promotion" | "human_review" | "blocked" | "failed" | "cancelled" | "awaiting_approval" | "promoting" | "promoted";
                            reasonCode?: string | null;
                            reasonDetail?: string | null;
                            baseRef?: string | null;
                            baseCommit?: string | null;
                            patchSha256?: string | null;
                            summary?: unknown;
                            finishedAt?: string | null;
                            leaseOwner?: null;
                            leaseExpiresAt?: null;
                        };
                        events: {
                            type: string;
                            at: string;
                            actor: string;
                            data: unknown;
                        }[];
                        expectStatus?: ("queued" | "running" | "ready_for_promotion" | "human_review" | "blocked" | "failed" | "cancelled" | "awaiting_approval" | "promoting" | "promoted")[];
                    } | {
                        /** @enum {string} */
                        op: "createAttempt";
                        writeSeq: number;
                        attempt: {
                            id: string;
                            number: number;
                            agentId: string;
                            startedAt: string;
                        };
                        events: {
                            type: string;
                            at: string;
                            actor: string;
                            data: unknown;
                        }[];
                    } | {
                        /** @enum {string} */
                        op: "finishAttempt";
                        writeSeq: number;
                        attemptId: string;
                        /** @enum {string} */
                        status: "succeeded" | "failed" | "blocked";
                        reasonCode: string | null;
                        finishedAt: string;
                        detail: unknown;
                        events: {
                            type: string;
                            at: string;
                            actor: string;
                            data: unknown;
                        }[];
                    } | {
                        /** @enum {string} */
                        op: "getRun";
                    } | {
                        /** @enum {string} */
                        op: "listAttempts";
                    } | {
                        /** @enum {string} */
                        op: "modelSpend";
                        scope: ("run" | "session") | {
                            fromIso: string;
                            toIso: string;
                        };
                    };
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        op: string;
                    } & {
                        [key: string]: unknown;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getBasePack: {
        parameters: {
            query: {
                fencingToken: number;
                have?: string | string[];
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The pack */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/x-git-packfile": string;
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    putRunArtifact: {
        parameters: {
            query?: never;
            header: {
                "x-aas-fencing-token": number;
                "x-aas-sha256": string;
                "x-aas-original-bytes"?: number;
            };
            path: {
                id: string;
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": unknown;
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        name: string;
                        sha256: string;
                        bytes: number;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    reportRun: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    fencingToken: number;
                    /** @enum {string} */
                    status: "human_review" | "blocked" | "failed" | "cancelled";
                    /** @enum {string} */
                    reasonCode: "GATES_PASSED" | "HUMAN_REVIEW_REQUESTED" | "INVALID_ARGUMENT" | "CONFIG_INVALID" | "NAME_TAKEN" | "JOB_INVALID" | "POLICY_INVALID" | "MANIFEST_INVALID" | "AGENT_UNKNOWN" | "REPO_NOT_FOUND" | "REPO_NOT_GIT" | "BASE_REF_UNKNOWN" | "BASE_DIRTY" | "NOT_FOUND" | "METHOD_NOT_ALLOWED" | "REQUEST_INVALID" | "REQUEST_TIMEOUT" | "HEADERS_TOO_LARGE" | "PAYLOAD_TOO_LARGE" | "MEDIA_TYPE_UNSUPPORTED" | "TOO_MANY_STREAMS" | "UNAUTHENTICATED" | "FORBIDDEN" | "POLICY_DENIED" | "GATE_FAILED" | "GATE_ERROR" | "EMPTY_PATCH" | "SANDBOX_UNAVAILABLE" | "AGENT_UNAVAILABLE" | "APPROVAL_SELF" | "APPROVAL_REQUIRED" | "APPROVAL_REJECTED" | "PREFLIGHT_FAILED" | "BASE_MOVED" | "BRANCH_EXISTS" | "CREDENTIALS_MISSING" | "AGENT_FAILED" | "AGENT_TIMEOUT" | "BUDGET_EXCEEDED" | "AGENT_OUTPUT_LIMIT" | "AGENT_CPU_LIMIT" | "AGENT_PROCESS_LIMIT" | "AGENT_MEMORY_LIMIT" | "AGENT_FILE_SIZE_LIMIT" | "WORKSPACE_GROWTH_LIMIT" | "DRIVER_RESULT_INVALID" | "PATCH_DIGEST_MISMATCH" | "ATTESTATION_INVALID" | "AUDIT_CHAIN_BROKEN" | "LEASE_FENCED" | "CONFLICT" | "CANCELLED" | "INTERRUPTED" | "PROVIDER_ERROR" | "STORE_UNAVAILABLE" | "SERVER_UNAVAILABLE" | "INTERNAL";
                    /** @default  */
                    detail?: string;
                };
            };
        };
        responses: {
            /** @description Default Response */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": {
                        runId: string;
                        status: string;
                        reasonCode: string | null;
                    };
                };
            };
            /** @description Default Response */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Default Response */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
}
