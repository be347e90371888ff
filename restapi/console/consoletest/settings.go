package consoletest

import (
	"context"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/restapi/console"
)

func settingsCases() []testCase {
	return []testCase{
		{"Settings/NotFoundBeforeInit", func(e *env) {
			_, err := e.s.Settings(e.ctx, console.DefaultSettings())
			e.is("Settings on an empty store", err, console.ErrStoreNotFound)
		}},
		{"Settings/InitOnceThenPut", func(e *env) {
			first := console.DefaultSettings()
			first.Registration = console.RegistrationOpen
			got, err := e.s.InitSettings(e.ctx, first)
			e.must(err)
			e.equal("InitSettings", got, first)
			other := console.DefaultSettings()
			other.AgentsPerAccount = 3
			got, err = e.s.InitSettings(e.ctx, other)
			e.must(err)
			e.equal("second InitSettings returns the stored settings", got, first)
			got, err = e.s.Settings(e.ctx, console.DefaultSettings())
			e.must(err)
			e.equal("Settings", got, first)

			next := first
			next.AgentsPerAccount = 0
			next.Relay.LegacyAccountTokenDevices = true
			next.Sessions.SessionTTLS = 7200
			next.MCP.Enabled = false
			e.must(e.s.PutSettings(e.ctx, next))
			got, err = e.s.Settings(e.ctx, console.DefaultSettings())
			e.must(err)
			e.equal("Settings after PutSettings", got, next)
		}},
		{"Settings/PutWithoutInit", func(e *env) {
			set := console.DefaultSettings()
			set.OTA.CheckIntervalS = 900
			e.must(e.s.PutSettings(e.ctx, set))
			got, err := e.s.Settings(e.ctx, console.DefaultSettings())
			e.must(err)
			e.equal("Settings", got, set)
		}},
		{"Settings/ConcurrentInit", func(e *env) {
			const n = 20
			results := make([]console.Settings, n)
			errs := race(n, func(i int) error {
				s := console.DefaultSettings()
				s.AgentsPerAccount = i + 1
				var err error
				results[i], err = e.s.InitSettings(e.ctx, s)
				return err
			})
			for i, err := range errs {
				e.is("concurrent InitSettings", err, nil)
				e.equal("concurrent InitSettings agree", results[i], results[0])
			}
		}},
		{"Settings/InTransaction", func(e *env) {
			set := console.DefaultSettings()
			set.AgentsPerAccount = 42
			err := e.s.InTx(e.ctx, func(ctx context.Context) error {
				e.must(e.s.PutSettings(ctx, set))
				got, err := e.s.Settings(ctx, console.DefaultSettings())
				e.must(err)
				e.equal("Settings inside the transaction", got.AgentsPerAccount, 42)
				return errBoom
			})
			e.is("InTx", err, errBoom)
			_, err = e.s.Settings(e.ctx, console.DefaultSettings())
			e.is("Settings after the rollback", err, console.ErrStoreNotFound)
		}},
		{"UISettings/PutGetDeleteWithUser", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			_, err := e.s.UISettings(e.ctx, u.ID)
			e.is("UISettings before any put", err, console.ErrStoreNotFound)
			e.is("PutUISettings of an unknown user", e.s.PutUISettings(e.ctx, e.id(auth.PrefixUser), console.DefaultUISettings()), console.ErrStoreNotFound)
			ui := console.UISettings{Locale: "de-CH", Theme: "dark"}
			e.must(e.s.PutUISettings(e.ctx, u.ID, ui))
			got, err := e.s.UISettings(e.ctx, u.ID)
			e.must(err)
			e.equal("UISettings", got, ui)
			ui2 := console.UISettings{Locale: "en", Theme: "light"}
			e.must(e.s.PutUISettings(e.ctx, u.ID, ui2))
			got, err = e.s.UISettings(e.ctx, u.ID)
			e.must(err)
			e.equal("UISettings after a second put", got, ui2)
			e.must(e.a.DeleteUser(e.ctx, u.ID))
			_, err = e.s.UISettings(e.ctx, u.ID)
			e.is("UISettings of a deleted user", err, console.ErrStoreNotFound)
		}},
	}
}
