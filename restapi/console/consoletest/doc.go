// Package consoletest is the conformance suite of console.Store: every
// implementation (refserver/sqlstore on SQLite and PostgreSQL) runs Run,
// like testing/fstest.TestFS for file systems.
//
// A console store shares its database and transactions with an
// auth.Store (the console runs auth's use cases, its audit rows and its
// idempotency records in one transaction), so Run takes both and checks
// that too. It starts goroutines only inside its concurrency subtests and
// waits for them.
package consoletest
