package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/auth/authtest"
	"github.com/wakelink-go/wakelink/refserver/sqlstore"
)

// closingStore closes its database when Run is done with it.
type closingStore struct {
	auth.Store
	close func() error
}

func (c closingStore) Close() error { return c.close() }

func openSQLite(t testing.TB, dsn string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), dsn, sqlstore.Config{})
	if err != nil {
		t.Fatalf("Open(%q): %v", dsn, err)
	}
	return s
}

func TestSQLiteConformance(t *testing.T) {
	dir := t.TempDir()
	var n atomic.Int64
	authtest.Run(t, func() auth.Store {
		s := openSQLite(t, filepath.Join(dir, "db"+hex.EncodeToString([]byte{byte(n.Add(1))})+".sqlite"))
		return closingStore{s.Auth(), s.Close}
	})
}

func TestSQLiteMemoryConformance(t *testing.T) {
	authtest.Run(t, func() auth.Store {
		s := openSQLite(t, ":memory:")
		return closingStore{s.Auth(), s.Close}
	})
}

func TestPostgresConformance(t *testing.T) {
	db := newPostgresDB(t)
	authtest.Run(t, func() auth.Store {
		s := db.open(t) // a fresh schema, migrated
		return closingStore{s.Auth(), s.Close}
	})
}

// pgDB is a fresh PostgreSQL database made for one test; each open uses a
// fresh schema in it, so subtests never share tables.
type pgDB struct {
	dsn   string // of the test database
	admin *sql.DB
	n     atomic.Int64
}

// postgresDSN returns WAKELINK_TEST_POSTGRES_DSN; unset, it skips the test,
// or fails it when CI=true.
func postgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("WAKELINK_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("WAKELINK_TEST_POSTGRES_DSN is not set, and CI=true: the PostgreSQL store must be tested in CI")
		}
		t.Skip("WAKELINK_TEST_POSTGRES_DSN not set: skipping the PostgreSQL store tests (set it to a role that may CREATE DATABASE)")
	}
	return dsn
}

// newPostgresDB creates a database with a random name through the DSN's
// role and drops it when the test ends.
func newPostgresDB(t testing.TB) *pgDB {
	t.Helper()
	dsn := postgresDSN(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "wl_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		t.Fatalf("creating the test database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping the test database %s: %v", name, err)
		}
		admin.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parsing WAKELINK_TEST_POSTGRES_DSN: %v", err)
	}
	u.Path = "/" + name
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &pgDB{dsn: u.String(), admin: db}
}

// schemaDSN creates a fresh schema and returns a DSN whose search_path is it.
func (p *pgDB) schemaDSN(t testing.TB) string {
	t.Helper()
	schema := "s" + hex.EncodeToString([]byte{byte(p.n.Add(1) >> 8), byte(p.n.Load())})
	if _, err := p.admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating a schema: %v", err)
	}
	u, _ := url.Parse(p.dsn)
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("synchronous_commit", "off") // test data need not survive a crash
	u.RawQuery = q.Encode()
	return u.String()
}

func (p *pgDB) open(t testing.TB) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), p.schemaDSN(t), sqlstore.Config{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// engines runs fn against a fresh store of each engine.
func engines(t *testing.T, fn func(t *testing.T, open func() *sqlstore.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		var n atomic.Int64
		fn(t, func() *sqlstore.Store {
			s := openSQLite(t, filepath.Join(dir, "db"+hex.EncodeToString([]byte{byte(n.Add(1))})+".sqlite"))
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		db := newPostgresDB(t)
		fn(t, func() *sqlstore.Store {
			s := db.open(t)
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
}

var authTables = []string{"users", "agents", "auth_credentials", "auth_claim_codes", "auth_recovery_codes", "auth_jwt_denylist", "auth_secrets"}

// rowCounts counts the committed rows of every auth table.
func rowCounts(t *testing.T, s *sqlstore.Store) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, tbl := range authTables {
		n, err := sqlstore.CountRows(context.Background(), s, tbl)
		if err != nil {
			t.Fatalf("counting %s: %v", tbl, err)
		}
		counts[tbl] = n
	}
	return counts
}

// TestInTxRollsBackEveryWrite runs a whole auth use case mix inside InTx
// through auth.Service, fails at the end, and checks that no table gained
// or lost a row and nothing changed.
func TestInTxRollsBackEveryWrite(t *testing.T) {
	engines(t, func(t *testing.T, open func() *sqlstore.Store) {
		s := open()
		as := s.Auth()
		svc := newService(t, as, nil)
		ctx := context.Background()
		res, err := svc.Setup(ctx, auth.NewAccount{Username: "admin", Password: "correct horse battery"})
		if err != nil {
			t.Fatal(err)
		}
		admin := res.User.ID
		before := rowCounts(t, s)
		userBefore, _ := as.UserByID(ctx, admin)

		boom := errors.New("boom")
		err = s.InTx(ctx, func(ctx context.Context) error {
			p, err := svc.Authenticate(ctx, res.APIToken.Token, auth.Kinds(auth.KindAccount))
			if err != nil {
				return err
			}
			if _, err := svc.CreateSession(ctx, p, auth.SessionRequest{Label: "x"}); err != nil {
				return err
			}
			if _, err := svc.CreateAgent(ctx, admin, auth.AgentSpec{AgentID: "pi", Name: "Pi"}); err != nil {
				return err
			}
			if _, err := svc.RotateDeviceToken(ctx, admin, "pi", time.Minute); err != nil {
				return err
			}
			if _, err := svc.CreateClaimCode(ctx, admin, auth.ClaimRequest{}); err != nil {
				return err
			}
			if _, err := svc.CreateUser(ctx, auth.NewAccount{Username: "bob", Password: "another long password"}); err != nil {
				return err
			}
			if _, _, err := svc.IssueDownloadToken(ctx, p, "artifact", "rel_1"); err != nil {
				return err
			}
			if _, err := svc.LogoutEverywhere(ctx, auth.Principal{UserID: admin, Kind: auth.KindJWT}, true); err != nil {
				return err
			}
			if err := as.PutSecret(ctx, "jwt_hs256_key", []byte("0123456789abcdef0123456789abcdef")); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx: got %v, want boom", err)
		}
		if after := rowCounts(t, s); !equalCounts(before, after) {
			t.Fatalf("row counts changed by a rolled-back transaction:\n before %v\n after  %v", before, after)
		}
		userAfter, _ := as.UserByID(ctx, admin)
		if userAfter != userBefore {
			t.Fatalf("user changed by a rolled-back transaction:\n before %+v\n after  %+v", userBefore, userAfter)
		}
		// The account token still works: its rotation was rolled back.
		if _, err := svc.Authenticate(ctx, res.APIToken.Token, auth.Kinds(auth.KindAccount)); err != nil {
			t.Fatalf("account token after the rollback: %v", err)
		}
	})
}

func equalCounts(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wl.db")
	for i := range 3 {
		s := openSQLite(t, path)
		n, err := sqlstore.CountRows(context.Background(), s, "schema_migrations")
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if n != sqlstore.SchemaVersion() {
			t.Fatalf("open #%d: %d migrations recorded, want %d", i+1, n, sqlstore.SchemaVersion())
		}
	}
	if sqlstore.SchemaVersion() < 1 {
		t.Fatal("no migrations embedded")
	}
}

func TestPostgresConcurrentOpen(t *testing.T) {
	db := newPostgresDB(t)
	dsn := db.schemaDSN(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := sqlstore.Open(context.Background(), dsn, sqlstore.Config{MaxOpenConns: 2})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent Open #%d: %v", i, err)
		}
	}
	s, err := sqlstore.Open(context.Background(), dsn, sqlstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := sqlstore.CountRows(context.Background(), s, "schema_migrations")
	if err != nil || n != sqlstore.SchemaVersion() {
		t.Fatalf("schema_migrations: %d rows (%v), want %d", n, err, sqlstore.SchemaVersion())
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wl.db")
	s := openSQLite(t, path)
	if err := sqlstore.ExecForTest(context.Background(), s, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := sqlstore.Open(context.Background(), path, sqlstore.Config{})
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema: got %v, want an error saying it is newer", err)
	}
}

func TestSQLiteSettings(t *testing.T) {
	dir := t.TempDir()
	for _, dsn := range []string{
		filepath.Join(dir, "plain.db"),
		"file:" + filepath.Join(dir, "uri.db") + "?cache=private&_txlock=deferred",
	} {
		s := openSQLite(t, dsn)
		mode, err := sqlstore.PragmaForTest(context.Background(), s, "journal_mode")
		if err != nil || mode != "wal" {
			t.Errorf("%s: journal_mode %q (%v), want wal", dsn, mode, err)
		}
		fk, err := sqlstore.PragmaForTest(context.Background(), s, "foreign_keys")
		if err != nil || fk != "1" {
			t.Errorf("%s: foreign_keys %q (%v), want 1", dsn, fk, err)
		}
		bt, err := sqlstore.PragmaForTest(context.Background(), s, "busy_timeout")
		if err != nil || bt != "5000" {
			t.Errorf("%s: busy_timeout %q (%v), want 5000", dsn, bt, err)
		}
		if s.Engine() != sqlstore.SQLite {
			t.Errorf("%s: engine %s", dsn, s.Engine())
		}
		s.Close()
	}
	if _, err := sqlstore.Open(context.Background(), "", sqlstore.Config{}); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	if _, err := sqlstore.Open(context.Background(), filepath.Join(dir, "no", "such", "dir", "x.db"), sqlstore.Config{}); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
}

// TestSQLiteTwoStoresOneFile simulates two processes writing one SQLite
// file at once: the busy timeout and BEGIN IMMEDIATE keep SQLITE_BUSY away.
func TestSQLiteTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	a, b := openSQLite(t, path), openSQLite(t, path)
	defer a.Close()
	defer b.Close()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := a.Auth()
			if i%2 == 1 {
				st = b.Auth()
			}
			u := auth.User{ID: "usr_" + hex.EncodeToString([]byte{byte(i)}), Username: "user" + hex.EncodeToString([]byte{byte(i)}),
				Role: auth.RoleUser, PasswordHash: "x", AgentsLimit: auth.AgentsLimitDefault, CreatedAt: time.Now()}
			err := st.InTx(context.Background(), func(ctx context.Context) error {
				if err := st.CreateUser(ctx, u); err != nil {
					return err
				}
				_, err := st.UpdateUser(ctx, u.ID, auth.UserPatch{BumpGeneration: true})
				return err
			})
			if err != nil {
				failed.Add(1)
				t.Errorf("writer %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	us, err := a.Auth().ListUsers(context.Background(), "", 100)
	if err != nil || len(us) != 40 {
		t.Fatalf("users: %d (%v), want 40", len(us), err)
	}
}

func TestPostgresUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := sqlstore.Open(ctx, "postgres://nobody:x@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", sqlstore.Config{})
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if strings.Contains(err.Error(), ":x@") {
		t.Fatalf("the error reveals the password: %v", err)
	}
}
