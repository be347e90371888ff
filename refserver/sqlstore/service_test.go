package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/refserver/sqlstore"
)

// testPasswordParams keep argon2id cheap in tests (the defaults are
// asserted in package auth).
var testPasswordParams = auth.PasswordParams{Memory: 64, Time: 1, Threads: 1}

func newService(t testing.TB, st auth.Store, mod func(*auth.Config)) *auth.Service {
	t.Helper()
	cfg := auth.Config{Password: testPasswordParams}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := auth.New(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// TestServiceBindRace redeems one claim code from 50 goroutines through
// auth.Service on each engine: exactly one bind wins, the others get
// CLAIM_CODE_USED, and exactly one agent exists.
func TestServiceBindRace(t *testing.T) {
	engines(t, func(t *testing.T, open func() *sqlstore.Store) {
		st := open().Auth()
		svc := newService(t, st, nil)
		ctx := context.Background()
		res, err := svc.Setup(ctx, auth.NewAccount{Username: "admin", Password: "correct horse battery"})
		if err != nil {
			t.Fatal(err)
		}
		claim, err := svc.CreateClaimCode(ctx, res.User.ID, auth.ClaimRequest{})
		if err != nil {
			t.Fatal(err)
		}
		const n = 50
		errs := make(chan error, n)
		start := make(chan struct{})
		for i := range n {
			go func() {
				<-start
				_, err := svc.Bind(ctx, auth.BindRequest{
					Code: claim.Code.Reveal(), InstallID: fmt.Sprintf("install-%012d", i), Platform: "linux-arm64",
				})
				errs <- err
			}()
		}
		close(start)
		won := 0
		for range n {
			switch err := <-errs; {
			case err == nil:
				won++
			case errors.Is(err, auth.ErrClaimCodeUsed):
			default:
				t.Errorf("Bind: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d binds won, want exactly 1", won)
		}
		if n, err := st.CountAgents(ctx, res.User.ID); err != nil || n != 1 {
			t.Fatalf("agents: %d (%v), want 1", n, err)
		}
	})
}

// TestServiceSetupRace runs concurrent first-admin setups: exactly one
// wins.
func TestServiceSetupRace(t *testing.T) {
	engines(t, func(t *testing.T, open func() *sqlstore.Store) {
		st := open().Auth()
		svc := newService(t, st, nil)
		ctx := context.Background()
		const n = 8
		errs := make(chan error, n)
		start := make(chan struct{})
		for i := range n {
			go func() {
				<-start
				_, err := svc.Setup(ctx, auth.NewAccount{Username: fmt.Sprintf("admin%d", i), Password: "correct horse battery"})
				errs <- err
			}()
		}
		close(start)
		won := 0
		for range n {
			switch err := <-errs; {
			case err == nil:
				won++
			case errors.Is(err, auth.ErrAlreadyInitialized):
			default:
				t.Errorf("Setup: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d setups won, want exactly 1", won)
		}
		us, err := st.ListUsers(ctx, "", 100)
		if err != nil || len(us) != 1 {
			t.Fatalf("users: %d (%v), want 1", len(us), err)
		}
	})
}

// TestServiceJWTKeyShared checks the generated JWT key is stored once and
// shared by every Service over the same database (nodes).
func TestServiceJWTKeyShared(t *testing.T) {
	engines(t, func(t *testing.T, open func() *sqlstore.Store) {
		st := open().Auth()
		a := newService(t, st, nil)
		b := newService(t, st, nil)
		ctx := context.Background()
		res, err := a.Setup(ctx, auth.NewAccount{Username: "admin", Password: "correct horse battery"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Authenticate(ctx, res.Access.Token, auth.Kinds(auth.KindJWT)); err != nil {
			t.Fatalf("a JWT of one Service rejected by another over the same store: %v", err)
		}
		_ = time.Second
	})
}
