package console_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/refserver/sqlstore"
	"github.com/wakelink-go/wakelink/relay"
	"github.com/wakelink-go/wakelink/restapi/console"
)

// *relay.Server is the console's Relay.
var _ console.Relay = (*relay.Server)(nil)

var testPasswordParams = auth.PasswordParams{Memory: 64, Time: 1, Threads: 1}

const adminPassword = "correct horse battery"

var testIP = netip.MustParseAddr("192.0.2.10")

// fakeClock is the base of the console Clock in tests.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// kick is a recorded Relay.Kick.
type kick struct {
	Target relay.Target
	Code   int
	At     time.Time
}

// fakeRelay records kicks and answers presence from a table.
type fakeRelay struct {
	mu       sync.Mutex
	kicks    []kick
	presence map[string][]relay.AgentPresence // account → agents
	failKick error
}

func newFakeRelay() *fakeRelay { return &fakeRelay{presence: map[string][]relay.AgentPresence{}} }

func (r *fakeRelay) Kick(ctx context.Context, t relay.Target, code int, at time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	t.CredentialIDs = slices.Clone(t.CredentialIDs)
	slices.Sort(t.CredentialIDs)
	r.kicks = append(r.kicks, kick{t, code, at})
	return r.failKick
}

func (r *fakeRelay) Presence(ctx context.Context, account string) []relay.AgentPresence {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.presence[account])
}

func (r *fakeRelay) AgentPresence(ctx context.Context, account, agentID string) (relay.AgentPresence, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.presence[account] {
		if p.AgentID == agentID {
			return p, true
		}
	}
	return relay.AgentPresence{}, false
}

func (r *fakeRelay) Stats() relay.Stats {
	return relay.Stats{Connections: 3, Clients: 1, Agents: 2, FramesIn: 10, BytesIn: 100,
		Drops: map[string]uint64{"offline": 1, "rate_limited": 2}, AuthFailures: map[string]uint64{"INVALID_TOKEN": 4}}
}

func (r *fakeRelay) Node() string { return "node-1" }

func (r *fakeRelay) setOnline(account string, ps ...relay.AgentPresence) {
	r.mu.Lock()
	r.presence[account] = ps
	r.mu.Unlock()
}

// take returns and forgets the recorded kicks.
func (r *fakeRelay) take() []kick {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.kicks
	r.kicks = nil
	return k
}

// fakeEvents records published events.
type fakeEvents struct {
	mu     sync.Mutex
	events []console.Event
	subErr error
	opts   []console.SubscribeOptions
}

func (f *fakeEvents) Publish(ctx context.Context, ev console.Event) error {
	if ev.Audience == "" {
		if _, ok := console.AudienceOf(ev.Type); !ok {
			return console.ErrInvalidEvent
		}
	}
	var m map[string]any
	if err := json.Unmarshal(ev.Data, &m); err != nil {
		return console.ErrInvalidEvent
	}
	f.mu.Lock()
	f.events = append(f.events, ev)
	f.mu.Unlock()
	return nil
}

func (f *fakeEvents) Subscribe(ctx context.Context, o console.SubscribeOptions) (console.Subscription, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opts = append(f.opts, o)
	if f.subErr != nil {
		return nil, f.subErr
	}
	return nil, nil
}

// take returns and forgets the recorded events' types.
func (f *fakeEvents) take() []console.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.events
	f.events = nil
	return e
}

func types(evs []console.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// failingStore lets a test make AppendAudit fail inside a transaction.
type failingStore struct {
	console.Store
	failAudit atomic.Bool
}

var errInjected = errors.New("injected failure")

func (f *failingStore) AppendAudit(ctx context.Context, r console.AuditRecord) error {
	if f.failAudit.Load() {
		return errInjected
	}
	return f.Store.AppendAudit(ctx, r)
}

// env is one test's server: a store, auth, the console, a fake relay and
// a fake event hub on the injected clock.
type env struct {
	t      *testing.T
	ctx    context.Context
	db     *sqlstore.Store
	store  *failingStore
	clk    *fakeClock
	clock  *console.Clock
	auth   *auth.Service
	svc    *console.Service
	relay  *fakeRelay
	events *fakeEvents
	open   func() *sqlstore.Store
}

type envOpt func(*console.Config)

// newEnv builds an env over a fresh database of the engine open makes.
func newEnv(t *testing.T, open func() *sqlstore.Store, opts ...envOpt) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), clk: newFakeClock(), relay: newFakeRelay(), events: &fakeEvents{}, open: open}
	e.db = open()
	e.clock = console.NewClock(e.clk.Now)
	e.build(opts...)
	return e
}

// build (re)creates auth and the console over e.db.
func (e *env) build(opts ...envOpt) {
	e.t.Helper()
	a, err := auth.New(e.db.Auth(), auth.Config{Now: e.clock.Now, Password: testPasswordParams, CacheSize: -1})
	if err != nil {
		e.t.Fatal(err)
	}
	e.auth = a
	e.store = &failingStore{Store: e.db.Console()}
	cfg := console.Config{Clock: e.clock, Relay: e.relay, Events: e.events, DevAPI: true,
		PublicURL: "https://wl.example.org", Version: console.VersionInfo{Version: "1.2.3"}}
	for _, o := range opts {
		o(&cfg)
	}
	svc, err := console.New(a, e.store, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.svc = svc
}

// engines runs fn on SQLite and on PostgreSQL (WAKELINK_TEST_POSTGRES_DSN;
// skipped when unset, failed when CI=true).
func engines(t *testing.T, fn func(t *testing.T, open func() *sqlstore.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		var n atomic.Int64
		fn(t, func() *sqlstore.Store {
			s, err := sqlstore.Open(context.Background(), filepath.Join(dir, "db"+hex.EncodeToString([]byte{byte(n.Add(1))})+".sqlite"), sqlstore.Config{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		open := postgres(t)
		fn(t, open)
	})
}

// sqliteOnly returns an opener of SQLite databases in a temp dir.
func sqliteOnly(t *testing.T) func() *sqlstore.Store {
	dir := t.TempDir()
	var n atomic.Int64
	return func() *sqlstore.Store {
		s, err := sqlstore.Open(context.Background(), filepath.Join(dir, "db"+hex.EncodeToString([]byte{byte(n.Add(1))})+".sqlite"), sqlstore.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

// postgres creates a database for the test and returns an opener of fresh
// schemas in it.
func postgres(t *testing.T) func() *sqlstore.Store {
	t.Helper()
	dsn := os.Getenv("WAKELINK_TEST_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("WAKELINK_TEST_POSTGRES_DSN is not set, and CI=true")
		}
		t.Skip("WAKELINK_TEST_POSTGRES_DSN not set: skipping PostgreSQL")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "wl_console_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		admin.Close()
		t.Fatalf("creating the test database: %v", err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	q := u.Query()
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	var n atomic.Int64
	return func() *sqlstore.Store {
		if n.Add(1) > 1 {
			t.Fatal("postgres opener: one database per test")
		}
		s, err := sqlstore.Open(context.Background(), u.String(), sqlstore.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

// must holds a result and its error; .of(t) fails the test on the error:
// must(f()).of(t).
func must[T any](v T, err error) result[T] { return result[T]{v, err} }

type result[T any] struct {
	v   T
	err error
}

func (r result[T]) of(t testing.TB) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantCode fails unless err carries code.
func wantCode(t *testing.T, what string, err error, code console.Code) {
	t.Helper()
	if got := console.CodeOf(err); got != code {
		t.Fatalf("%s: got %v (code %q), want %s", what, err, got, code)
	}
}

// account is a user with its credentials.
type account struct {
	id       string
	username string
	password string
	jwt      string // Bearer values
	wl       string
	caller   console.Caller // from the JWT
}

// setup creates the first admin.
func (e *env) setup() *account {
	e.t.Helper()
	res := must(e.svc.Setup(e.ctx, console.SignupRequest{Username: "admin", Password: adminPassword, RemoteIP: testIP})).of(e.t)
	a := &account{id: res.User.ID, username: "admin", password: adminPassword, jwt: res.AccessToken.Reveal(), wl: res.User.APIToken.Reveal()}
	a.caller = e.caller(a.jwt, console.AuthC)
	return a
}

// user creates a user through admin and logs it in.
func (e *env) user(admin *account, name string) *account {
	e.t.Helper()
	pw := "sufficiently long password 42"
	must(e.svc.CreateUser(e.ctx, admin.caller, console.CreateUserRequest{Username: name, Password: pw})).of(e.t)
	res := must(e.svc.Login(e.ctx, console.LoginRequest{Username: name, Password: pw, RemoteIP: testIP})).of(e.t)
	a := &account{id: res.User.ID, username: name, password: pw, jwt: res.AccessToken.Reveal(), wl: res.User.APIToken.Reveal()}
	a.caller = e.caller(a.jwt, console.AuthC)
	return a
}

// caller authenticates a Bearer value under rule, failing the test.
func (e *env) caller(token string, rule console.AuthRule) console.Caller {
	e.t.Helper()
	return must(e.svc.AuthenticateBearer(e.ctx, "Bearer "+token, rule, testIP)).of(e.t)
}

// session mints a password session for a.
func (e *env) session(a *account) (string, string) {
	e.t.Helper()
	st := must(e.svc.CreateSession(e.ctx, a.caller, console.CreateSessionRequest{Label: "test"})).of(e.t)
	return st.SessionToken.Reveal(), st.SessionID
}

// auditActions returns the actions of the audit log, oldest first.
func (e *env) auditActions(admin *account) []string {
	e.t.Helper()
	page := must(e.svc.ListAudit(e.ctx, admin.caller, console.ListAuditRequest{Limit: 200})).of(e.t)
	out := []string{}
	for i := len(page.Items) - 1; i >= 0; i-- {
		out = append(out, page.Items[i].Action)
	}
	return out
}
