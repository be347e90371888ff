package consoletest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/restapi/console"
)

// Stores is one implementation under test: a console store and the auth
// store sharing its database and transactions, both empty.
type Stores struct {
	Console console.Store
	Auth    auth.Store
	// Close, if not nil, is called when the subtest ends.
	Close func() error
}

// Run runs the console.Store conformance suite against the stores
// newStores returns; each subtest gets fresh, empty stores. It covers
// every method: settings (seeding once under concurrency, defaults for
// missing fields), UI settings (deleted with their user), the audit log
// (filters, newest-first keyset pages, totals), idempotency records
// (claim, conflict, completion, expiry, concurrent claims, rollback, user
// deletion), the agent listing (every filter, the id restrictions, every
// sort in both orders walked page by page, totals, remote addresses), the
// user listing, counts, purge, reset, seeding and health, and that the
// console's writes share auth's transactions (one rollback undoes both;
// AfterCommit).
func Run(t *testing.T, newStores func() Stores) {
	t.Helper()
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			st := newStores()
			if st.Close != nil {
				t.Cleanup(func() {
					if err := st.Close(); err != nil {
						t.Errorf("closing the stores: %v", err)
					}
				})
			}
			c.fn(newEnv(t, st))
		})
	}
}

type testCase struct {
	name string
	fn   func(e *env)
}

func cases() []testCase {
	var cs []testCase
	cs = append(cs, settingsCases()...)
	cs = append(cs, auditCases()...)
	cs = append(cs, idempotencyCases()...)
	cs = append(cs, agentCases()...)
	cs = append(cs, userCases()...)
	cs = append(cs, maintenanceCases()...)
	return cs
}

// env is one subtest's stores with helpers.
type env struct {
	t   *testing.T
	s   console.Store
	a   auth.Store
	ctx context.Context
	now time.Time
	seq atomic.Int64
}

func newEnv(t *testing.T, st Stores) *env {
	return &env{t: t, s: st.Console, a: st.Auth, ctx: context.Background(), now: time.Now().UTC().Truncate(time.Millisecond)}
}

// id returns a fresh id with prefix (26 digits: valid ULID characters);
// ids sort in creation order.
func (e *env) id(prefix string) string {
	return fmt.Sprintf("%s%026d", prefix, e.seq.Add(1))
}

func (e *env) at(d time.Duration) time.Time { return e.now.Add(d) }

func (e *env) user(name string, role auth.Role) auth.User {
	e.t.Helper()
	u := auth.User{ID: e.id(auth.PrefixUser), Username: name, Role: role, PasswordHash: "$argon2id$hash",
		AgentsLimit: auth.AgentsLimitDefault, CreatedAt: e.now}
	e.must(e.a.CreateUser(e.ctx, u))
	return u
}

func (e *env) agent(owner, id, name, platform string, created time.Time) auth.Agent {
	e.t.Helper()
	a := auth.Agent{OwnerID: owner, AgentID: id, Name: name, Platform: platform, Channel: "stable", CreatedAt: created, UpdatedAt: created}
	e.must(e.a.CreateAgent(e.ctx, a, 0))
	return a
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// is fails unless errors.Is(err, want) (want nil: err must be nil).
func (e *env) is(what string, err, want error) {
	e.t.Helper()
	if want == nil {
		if err != nil {
			e.t.Fatalf("%s: got error %v, want none", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		e.t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func (e *env) equal(what string, got, want any) {
	e.t.Helper()
	if !reflect.DeepEqual(got, want) {
		e.t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// race runs fn(i) in n goroutines released together and returns their
// errors.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

var errBoom = errors.New("consoletest: boom")
