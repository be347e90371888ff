// Package console is the console service layer of the reference server: one
// method per use case of API.md §3, called by the REST handlers and by /mcp
// alike, checking ownership and roles and running the write order of API.md
// §1.9 (validate, one transaction, relay/broker, SSE, respond).
//
// It declares the small interfaces it needs from server-only features and
// lets refserver pass their implementations, so that restapi never imports
// refserver: Store (store.go: settings, audit log, idempotency records,
// listings; refserver/sqlstore, conformance suite consoletest), Relay
// (Kick, Presence, Stats; *relay.Server satisfies it), Events (events.go:
// the server-sent-events hub, implemented by refserver/events, together
// with the SSE frame encoder the REST layer writes frames with), and the
// optional BrokerStatus, BlobStatus and ReleaseKeys.
//
// # Callers and credentials
//
// The REST layer authenticates every request with AuthenticateBearer (the
// Authorization header, the endpoint's AuthRule — the x-wakelink-auth of
// openapi.yaml — and the client address) or, for GET /events,
// AuthenticateTicket; both answer the errors of API.md §1.4 in its order
// (SETUP_REQUIRED first). The Caller they return is passed to every use
// case, which checks its rule again: a Caller built by hand (MCP) gets no
// more than its credential allows. Another account's resource is
// AGENT_NOT_FOUND (SESSION_NOT_FOUND, CLAIM_CODE_NOT_FOUND), never
// FORBIDDEN; FORBIDDEN means the role. Unauthenticated endpoints call
// CheckSetup themselves (Login and Bind do it here).
//
// # Contract
//
//   - Every mutation validates, then runs one Store.InTx holding all its
//     changes (auth's included: the stores share the transaction), its
//     audit row (API.md §3.10 actions) and, for Idem operations, its
//     idempotency record; only after the commit does it kick relay
//     connections (the §4.7 code of each revocation of §1.4, grace periods
//     scheduled on the relay) and publish events (§3.6). A failure inside
//     the transaction writes, kicks and publishes nothing. Post-commit
//     failures are logged and counted (wakelink_notify_failures_total) and
//     never undo the commit. The one exception is login: auth commits it
//     (and records failed attempts) itself, and its audit row follows in a
//     transaction of its own.
//   - Errors a caller can act on are *Error (= auth.Error) with a stable
//     code of API.md §2; CodeOf maps any error to its code (a database
//     that cannot serve is SERVICE_UNAVAILABLE, anything else unexpected
//     INTERNAL_ERROR) and HTTPStatus to its status, so the REST layer maps
//     every error in one place. Messages never hold secrets or internal
//     text.
//   - Idempotency (API.md §1.7): Idem requests carry an Idempotency (key
//     and RequestFingerprint); a repeat of a completed request answers the
//     stored result with Replayed set and its one-time secrets nil, the key
//     with another request — or while the first runs — answers
//     IDEMPOTENCY_KEY_REUSED. Records live 24 h and are keyed by user.
//   - Results are the objects of openapi.yaml field for field (json names
//     included); secrets are *Secret, which never prints.
//   - Settings are cached and re-read every Config.SettingsRefresh (so a
//     change on another node applies within it); the Service hands auth
//     its part (SetSettings) and uses the relay part for relay principals.
//   - The Service is the relay's Authenticator, Revalidator and Directory,
//     and ObservePresence is its presence observer; RelayAuthz,
//     RelayRevalidate, RelayAgents and RelayPresence answer the same for
//     external relay nodes (/api/internal).
//
// # What it never does
//
// It never sees an agent token (the EWSP secret) or a command, never
// stores or logs a token (only auth's hashes; credentials are named by
// id), never serves HTTP, never reads settings from anywhere but its Store,
// and never lets a post-commit failure turn a committed change into an
// error.
//
// # Concurrency
//
// A Service is safe for concurrent use. It starts no goroutines and has
// nothing to close; refserver calls Purge (hourly) and FlushPresence (every
// few seconds, and with force at shutdown) from its own goroutines.
// ObservePresence runs on the relay's connection goroutines and bounds its
// database write by Config.PresenceTimeout.
package console
