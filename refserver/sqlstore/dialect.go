package sqlstore

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// dialect holds the SQL that differs between the engines. Queries are
// written once with ? placeholders (rewritten to $n for PostgreSQL by
// Store.q) and in the common subset of both (RETURNING, ON CONFLICT DO
// NOTHING, partial indexes, lower()); column types differ only in the
// per-engine migration files.
type dialect struct {
	// forUpdate locks the selected rows until the transaction ends
	// (PostgreSQL); SQLite transactions already hold the database's write
	// lock (BEGIN IMMEDIATE).
	forUpdate string
	// forShare keeps the selected rows from being deleted or re-keyed
	// until the transaction ends.
	forShare string
	// lockUsers serialises first-user creation against every other user
	// insert; "" where transactions are serial anyway.
	lockUsers string
	// migrationLock serialises concurrent migrators (several nodes
	// starting at once); "" for SQLite (BEGIN IMMEDIATE).
	migrationLock string
	// collateC makes a text expression compare by bytes (SQLite's
	// default).
	collateC string
	// jsonStrings is a subquery yielding the strings of a JSON array
	// passed as its one argument (IN lists of any length).
	jsonStrings string
}

var (
	sqliteDialect = dialect{
		jsonStrings: "SELECT value FROM json_each(?)",
	}
	postgresDialect = dialect{
		forUpdate:     " FOR UPDATE",
		forShare:      " FOR KEY SHARE",
		lockUsers:     "LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE",
		migrationLock: "SELECT pg_advisory_xact_lock(7715298240118723)", // "wakelink" migrations
		collateC:      ` COLLATE "C"`,
		jsonStrings:   "SELECT jsonb_array_elements_text(CAST(? AS jsonb))",
	}
)

// rebind replaces each ? with $1, $2, …. Queries here never contain ? in
// literals.
func rebind(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// placeholders returns "?, ?, …" (n of them).
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

func pragma(name string, v int64) string {
	return fmt.Sprintf("_pragma=%s(%d)", name, v)
}

// isMemoryDSN reports whether a SQLite DSN names an in-memory database.
func isMemoryDSN(dsn string) bool {
	return dsn == ":memory:" || strings.HasPrefix(dsn, "file::memory:") || strings.Contains(dsn, "mode=memory")
}

// sqliteDSN appends the driver parameters params ("key=value") to a SQLite
// path or file: URI, replacing the caller's own values of the keys we set.
func sqliteDSN(dsn string, params ...string) string {
	base, query, _ := strings.Cut(dsn, "?")
	vals, err := url.ParseQuery(query)
	if err != nil {
		vals = url.Values{}
	}
	ours := map[string]bool{}
	for _, p := range params {
		k, _, _ := strings.Cut(p, "=")
		if k != "_pragma" {
			ours[k] = true
		}
	}
	for k := range ours {
		vals.Del(k)
	}
	for _, p := range params {
		k, v, _ := strings.Cut(p, "=")
		vals.Add(k, v)
	}
	return base + "?" + vals.Encode()
}
