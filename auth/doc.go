// Package auth is WakeLink's authentication and device-identity domain:
// users (first-admin setup, registration, roles, disable, delete), passwords
// (argon2id, policy, lockout, per-IP limits), TOTP (enroll, confirm,
// recovery codes), credentials (JWT access tokens; opaque wl_, wls_, wld_,
// wlm_, wdt_, wet_ tokens; claim codes), revocation, and agents (ids,
// names, WoL targets, device tokens, limits, claim-code binding).
//
// It has no HTTP and no SQL and imports nothing of this module. Persistence
// is the Store interface declared here (implemented by refserver/sqlstore
// and, in memory, by auth/authtest.NewMemStore; auth/authtest.Run is the
// conformance suite every implementation passes). Server settings
// (registration, agent limit, session TTL and caps) come in through
// SetSettings; auth never reads them itself.
//
// # Contract
//
//   - Errors a caller can act on are *Error values carrying a stable code of
//     API.md §2 (INVALID_TOKEN, ACCOUNT_LOCKED, VALIDATION_FAILED, ...), with
//     a sentinel per code for errors.Is and fields where the API has detail
//     (Reasons, LockedUntil, Limit, Fields). Their messages never contain a
//     secret. Other errors are Store failures (answer INTERNAL_ERROR or
//     SERVICE_UNAVAILABLE).
//   - Bearer values are classified by exact prefix with ParseToken (API.md
//     §1.4). Secrets travel as Token, which redacts itself in String,
//     Format, LogValue and MarshalText; Reveal gives the raw value to the one
//     answer that issues it. Only SHA-256 hashes of tokens and codes are
//     stored; comparisons of secrets are constant-time.
//   - Every method that verifies a credential returns a Principal: user,
//     role, credential kind and id(s), expiry, session origin, generation.
//   - Revoking methods return the credential ids they revoked (and for a
//     device-token rotation the grace end), so the caller kicks relay
//     connections after its transaction commits: auth never calls the relay.
//   - Password changes and logout-everywhere bump the user's generation,
//     which revokes every JWT and session at once.
//   - Use cases that write several rows run in one Store.InTx; when the
//     caller's ctx already carries a transaction they join it. Login
//     records failed attempts through the Store and must not run inside a
//     transaction its error rolls back. Password hashing never happens
//     inside a transaction.
//
// # Fast path
//
// Authenticate answers from a bounded cache of verified credentials keyed
// by the token's SHA-256 (≈1 µs a hit; see BENCHMARKS.md). A revocation
// made through this Service drops the affected entries at once and again
// when its transaction commits, so no revoked credential is accepted in
// this process after the revoking call returns. Revocations made by another
// process sharing the database are seen within Config.CacheTTL (5 s by
// default), and the relay re-validates live connections every 60 s.
//
// # Concurrency
//
// A Service is safe for concurrent use. It starts no goroutines and holds
// no resources, so it has no Close. Argon2id runs at most
// Config.HashConcurrency (GOMAXPROCS) at a time.
package auth
