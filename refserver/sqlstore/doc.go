// Package sqlstore is the reference server's storage over database/sql:
// SQLite through modernc.org/sqlite (pure Go; the default, one file) or
// PostgreSQL through jackc/pgx/v5, chosen by the DSN given to Open.
//
// Store.Auth returns the auth.Store and Store.Console the console.Store
// (settings, audit log, idempotency records, the filtered listings and
// counts of the console; restapi/console/consoletest is its conformance
// suite); the ota.Store of a later issue is a further view. The views
// share the Store's pools and its transactions. Store.InTx runs a use
// case in one transaction carried by the context, so every store call made
// with that context — auth, ota and console alike — joins it; AfterCommit
// defers work (cache invalidation, kicks) until it commits.
//
// Schema changes are versioned migrations, embedded (migrations/<engine>/
// NNNN_name.sql) and applied by Open in one transaction, recorded in
// schema_migrations: opening is idempotent, and concurrent openers apply
// each version once.
//
// SQLite runs in WAL mode with a busy timeout and foreign keys on. Writes
// and transactions use a single connection and BEGIN IMMEDIATE, so
// concurrent writers in this process queue instead of failing with
// SQLITE_BUSY, while reads outside transactions use a separate pool of
// query-only connections. PostgreSQL uses one pool at READ COMMITTED; the
// atomic rules of auth.Store (counted limits, first user, last admin,
// single use) rely on row locks (SELECT … FOR UPDATE) and conditional
// updates. Times are stored as Unix milliseconds, key columns in byte
// order on both engines.
//
// A Store is safe for concurrent use; it starts no goroutines beyond
// database/sql's own, which Close stops.
package sqlstore
