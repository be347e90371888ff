package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Engine names a database engine.
type Engine string

// The engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Config configures a Store. The zero Config is valid.
type Config struct {
	// Logger receives operational messages (migrations applied); nil
	// discards.
	Logger *slog.Logger
	// BusyTimeout is how long SQLite waits for a lock held by another
	// process; 0 means 5 s.
	BusyTimeout time.Duration
	// MaxOpenConns bounds the connection pool: PostgreSQL connections
	// (0 means 10), or SQLite read connections (0 means 4; writes always
	// use one connection).
	MaxOpenConns int
}

// Store is the SQL storage of the reference server. It is safe for
// concurrent use. It starts no goroutines of its own (database/sql's pool
// runs its connection cleaner while open); Close releases the pools.
type Store struct{ *db }

// db is the state the Store and its views (Auth, later ota and console)
// share: pools, dialect and the transaction machinery.
type db struct {
	engine Engine
	d      dialect
	// w runs writes and transactions. On SQLite it holds one connection
	// and begins transactions with BEGIN IMMEDIATE, so writers queue in
	// Go instead of failing with SQLITE_BUSY; on PostgreSQL it is the
	// only pool.
	w *sql.DB
	// r runs reads outside transactions: on SQLite a query-only pool (WAL
	// lets readers run beside the writer); on PostgreSQL r == w.
	r   *sql.DB
	log *slog.Logger
}

// Open opens the database dsn names and applies the pending migrations:
// "postgres://…" or "postgresql://…" opens PostgreSQL through pgx;
// anything else is a SQLite file path or "file:" URI (modernc.org/sqlite),
// opened in WAL mode with a busy timeout and foreign keys on.
func Open(ctx context.Context, dsn string, cfg Config) (*Store, error) {
	if cfg.BusyTimeout < 0 || cfg.MaxOpenConns < 0 {
		return nil, errors.New("sqlstore: invalid Config: negative BusyTimeout or MaxOpenConns")
	}
	if cfg.BusyTimeout == 0 {
		cfg.BusyTimeout = 5 * time.Second
	}
	s := &db{log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		err = s.openPostgres(dsn, cfg)
	} else {
		err = s.openSQLite(dsn, cfg)
	}
	if err != nil {
		return nil, err
	}
	if err := s.w.PingContext(ctx); err != nil {
		s.close()
		return nil, fmt.Errorf("sqlstore: connecting to the %s database: %w", s.engine, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.close()
		return nil, err
	}
	return &Store{s}, nil
}

func (s *db) openPostgres(dsn string, cfg Config) error {
	s.engine, s.d = Postgres, postgresDialect
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return fmt.Errorf("sqlstore: opening PostgreSQL: %w", err)
	}
	n := cfg.MaxOpenConns
	if n == 0 {
		n = 10
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s.w, s.r = db, db
	return nil
}

func (s *db) openSQLite(dsn string, cfg Config) error {
	s.engine, s.d = SQLite, sqliteDialect
	if dsn == "" {
		return errors.New("sqlstore: empty database path")
	}
	busy := cfg.BusyTimeout.Milliseconds()
	if isMemoryDSN(dsn) {
		// One connection shared by reads and writes: an in-memory database
		// lives in its connection.
		db, err := sql.Open("sqlite", sqliteDSN(dsn, "_txlock=immediate", pragma("busy_timeout", busy), pragma("foreign_keys", 1)))
		if err != nil {
			return fmt.Errorf("sqlstore: opening SQLite: %w", err)
		}
		db.SetMaxOpenConns(1)
		db.SetConnMaxIdleTime(0)
		db.SetConnMaxLifetime(0)
		s.w, s.r = db, db
		return nil
	}
	w, err := sql.Open("sqlite", sqliteDSN(dsn, "_txlock=immediate", pragma("busy_timeout", busy),
		pragma("foreign_keys", 1), "_pragma=journal_mode(WAL)", "_pragma=synchronous(NORMAL)"))
	if err != nil {
		return fmt.Errorf("sqlstore: opening SQLite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	// The writer creates the file and switches it to WAL before any
	// reader opens it.
	if err := w.Ping(); err != nil {
		w.Close()
		return fmt.Errorf("sqlstore: opening SQLite: %w", err)
	}
	r, err := sql.Open("sqlite", sqliteDSN(dsn, pragma("busy_timeout", busy), pragma("foreign_keys", 1), "_pragma=query_only(1)"))
	if err != nil {
		w.Close()
		return fmt.Errorf("sqlstore: opening SQLite: %w", err)
	}
	n := cfg.MaxOpenConns
	if n == 0 {
		n = 4
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s.w, s.r = w, r
	return nil
}

// Close closes the database. Calls made after Close fail.
func (s *Store) Close() error { return s.close() }

func (s *db) close() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Engine reports the engine in use.
func (s *Store) Engine() Engine { return s.db.engine }

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type txKey struct{}

// txState is the transaction InTx puts in the context.
type txState struct {
	s     *db
	tx    *sql.Tx
	hooks []func()
}

func (s *db) txOf(ctx context.Context) *txState {
	if t, ok := ctx.Value(txKey{}).(*txState); ok && t.s == s {
		return t
	}
	return nil
}

// InTx runs fn in one transaction carried by the ctx it passes, so every
// call of this Store (and of its Auth view, and of the stores added later)
// made with that ctx joins it. An error or panic from fn rolls every write
// back; otherwise it commits and then runs the AfterCommit functions. If
// ctx already carries a transaction of this Store, fn joins it.
//
// A ctx carrying a transaction must be used by one goroutine at a time,
// and fn must not wait on other calls of this Store made without that ctx:
// on SQLite the transaction holds the only write connection.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return s.db.InTx(ctx, fn)
}

// AfterCommit runs fn after the transaction carried by ctx commits, or at
// once without one; never after a rollback.
func (s *Store) AfterCommit(ctx context.Context, fn func()) { s.db.AfterCommit(ctx, fn) }

func (s *db) InTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if s.txOf(ctx) != nil {
		return fn(ctx)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: beginning a transaction: %w", err)
	}
	t := &txState{s: s, tx: tx}
	done := false
	defer func() {
		if !done {
			tx.Rollback()
		}
	}()
	if err := fn(context.WithValue(ctx, txKey{}, t)); err != nil {
		return err
	}
	done = true
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: committing: %w", err)
	}
	for _, h := range t.hooks {
		h()
	}
	return nil
}

func (s *db) AfterCommit(ctx context.Context, fn func()) {
	if t := s.txOf(ctx); t != nil {
		t.hooks = append(t.hooks, fn)
		return
	}
	fn()
}

// rd returns where a read runs: the ctx's transaction, else the read pool.
func (s *db) rd(ctx context.Context) querier {
	if t := s.txOf(ctx); t != nil {
		return t.tx
	}
	return s.r
}

// wr returns where a one-statement write runs: the ctx's transaction,
// else the write pool.
func (s *db) wr(ctx context.Context) querier {
	if t := s.txOf(ctx); t != nil {
		return t.tx
	}
	return s.w
}

// q rewrites a query written with ? placeholders for the engine (about a
// microsecond, next to a round trip of a hundred or more).
func (s *db) q(query string) string {
	if s.engine != Postgres {
		return query
	}
	return rebind(query)
}

func (s *db) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.wr(ctx).ExecContext(ctx, s.q(query), args...)
}

func (s *db) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return s.rd(ctx).QueryRowContext(ctx, s.q(query), args...)
}

func (s *db) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.rd(ctx).QueryContext(ctx, s.q(query), args...)
}

// writeRow runs a write returning a row (UPDATE … RETURNING).
func (s *db) writeRow(ctx context.Context, query string, args ...any) *sql.Row {
	return s.wr(ctx).QueryRowContext(ctx, s.q(query), args...)
}

// writeRows runs a write returning rows.
func (s *db) writeRows(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return s.wr(ctx).QueryContext(ctx, s.q(query), args...)
}
