package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/refserver/sqlstore"
)

// Open a SQLite file (a postgres:// DSN selects PostgreSQL instead); the
// schema is migrated on open. Store.Auth is the auth.Store to build an
// auth.Service on, Store.Console the console.Store of console.New.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "wakelink")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(dir, "wakelink.db"), sqlstore.Config{})
	if err != nil {
		panic(err)
	}
	defer st.Close()
	svc, err := auth.New(st.Auth(), auth.Config{})
	if err != nil {
		panic(err)
	}
	res, err := svc.Setup(ctx, auth.NewAccount{Username: "admin", Password: "correct horse battery staple"})
	if err != nil {
		panic(err)
	}
	fmt.Println(st.Engine(), "schema", sqlstore.SchemaVersion(), "first user:", res.User.Username)
	// Output: sqlite schema 2 first user: admin
}

// InTx runs a use case in one transaction: every store call made with the
// ctx it passes joins it, and an error rolls all of them back.
func ExampleStore_InTx() {
	dir, _ := os.MkdirTemp("", "wakelink")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(dir, "wakelink.db"), sqlstore.Config{})
	if err != nil {
		panic(err)
	}
	defer st.Close()
	users := st.Auth()
	u := auth.User{ID: "usr_01", Username: "alice", Role: auth.RoleUser, PasswordHash: "…",
		AgentsLimit: auth.AgentsLimitDefault, CreatedAt: time.Now()}

	err = st.InTx(ctx, func(ctx context.Context) error {
		if err := users.CreateUser(ctx, u); err != nil {
			return err
		}
		st.AfterCommit(ctx, func() { fmt.Println("committed") })
		return errors.New("validation failed later")
	})
	_, lookup := users.UserByID(ctx, "usr_01")
	fmt.Println(err, "/", errors.Is(lookup, auth.ErrNotFound))
	// Output: validation failed later / true
}
