// Package authtest helps test code that uses package auth.
//
// Run is the conformance suite of auth.Store: every implementation
// (refserver/sqlstore on SQLite and PostgreSQL, and MemStore here) runs it,
// like testing/fstest.TestFS for file systems. MemStore is an in-memory
// auth.Store for tests and examples; it passes Run.
//
// MemStore is safe for concurrent use (one mutex; a transaction holds it).
// Run starts goroutines only inside its concurrency subtests and waits for
// them.
package authtest
