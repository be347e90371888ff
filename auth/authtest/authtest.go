package authtest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/auth"
)

// Run runs the auth.Store conformance suite against the stores newStore
// returns. Each subtest gets a fresh, empty store from newStore; if the
// store implements io.Closer, Run closes it when the subtest ends. The
// suite covers every method, the uniqueness rules (usernames ignoring
// case, agent ids per owner, credential hashes, live MCP names), the
// atomic counters and limits under concurrency (e.g. 50 goroutines
// consuming one claim code: exactly one wins; concurrent first-user
// creation: exactly one wins), expiry, deletion cascades and transactions
// (commit, rollback of every write, joining, AfterCommit).
func Run(t *testing.T, newStore func() auth.Store) {
	t.Helper()
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			s := newStore()
			if cl, ok := s.(io.Closer); ok {
				t.Cleanup(func() {
					if err := cl.Close(); err != nil {
						t.Errorf("closing the store: %v", err)
					}
				})
			}
			c.fn(newEnv(t, s))
		})
	}
}

type testCase struct {
	name string
	fn   func(e *env)
}

func cases() []testCase {
	var cs []testCase
	cs = append(cs, userCases()...)
	cs = append(cs, credentialCases()...)
	cs = append(cs, agentCases()...)
	cs = append(cs, claimCases()...)
	cs = append(cs, txCases()...)
	return cs
}

// env is one subtest's store with helpers.
type env struct {
	t   *testing.T
	s   auth.Store
	ctx context.Context
	now time.Time
	seq atomic.Int64
}

func newEnv(t *testing.T, s auth.Store) *env {
	return &env{t: t, s: s, ctx: context.Background(), now: time.Now().UTC().Truncate(time.Millisecond)}
}

// id returns a fresh id with prefix; ids sort in creation order.
func (e *env) id(prefix string) string {
	return fmt.Sprintf("%s%026d", prefix, e.seq.Add(1))
}

func hashOf(s string) auth.Hash { return sha256.Sum256([]byte(s)) }

// at returns now + d.
func (e *env) at(d time.Duration) time.Time { return e.now.Add(d) }

func (e *env) newUser(name string, role auth.Role) auth.User {
	return auth.User{
		ID: e.id(auth.PrefixUser), Username: name, Role: role, PasswordHash: "$argon2id$hash",
		AgentsLimit: auth.AgentsLimitDefault, CreatedAt: e.now,
	}
}

// user creates a user.
func (e *env) user(name string, role auth.Role) auth.User {
	e.t.Helper()
	u := e.newUser(name, role)
	e.must(e.s.CreateUser(e.ctx, u))
	return u
}

func (e *env) agent(owner, id string) auth.Agent {
	e.t.Helper()
	a := auth.Agent{OwnerID: owner, AgentID: id, Name: id, Channel: "stable", CreatedAt: e.now, UpdatedAt: e.now}
	e.must(e.s.CreateAgent(e.ctx, a, 0))
	return a
}

func (e *env) cred(userID string, k auth.Kind) auth.Credential {
	e.t.Helper()
	c := e.newCred(userID, k)
	if _, err := e.s.CreateCredential(e.ctx, c, auth.Limit{}); err != nil {
		e.t.Fatalf("CreateCredential(%s): %v", k, err)
	}
	return c
}

func (e *env) newCred(userID string, k auth.Kind) auth.Credential {
	prefix := auth.PrefixCredential
	switch k {
	case auth.KindSession:
		prefix = auth.PrefixSession
	case auth.KindMCP:
		prefix = auth.PrefixMCP
	}
	id := e.id(prefix)
	return auth.Credential{ID: id, Kind: k, Hash: hashOf(id), UserID: userID, CreatedAt: e.now}
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

// tally counts nil errors and errors matching want; any other error fails.
func (e *env) tally(what string, errs []error, want error) (ok, matched int) {
	e.t.Helper()
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, want):
			matched++
		default:
			e.t.Fatalf("%s: unexpected error %v", what, err)
		}
	}
	return ok, matched
}

// ids returns the ids of credentials.
func ids(cs []auth.Credential) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
