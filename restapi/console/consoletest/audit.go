package consoletest

import (
	"context"
	"fmt"
	"time"

	"github.com/wakelink-go/wakelink/restapi/console"
)

func auditCases() []testCase {
	return []testCase{
		{"Audit/AppendAndConflict", func(e *env) {
			r := console.AuditRecord{ID: e.id("aud_"), At: e.now, ActorID: "usr_x", ActorKind: console.ActorUser,
				Action: "agent.created", Target: "pi", Result: "success", RemoteIP: "192.0.2.1"}
			e.must(e.s.AppendAudit(e.ctx, r))
			e.is("AppendAudit of an existing id", e.s.AppendAudit(e.ctx, r), console.ErrStoreConflict)
			got, total, err := e.s.ListAudit(e.ctx, console.AuditQuery{Limit: 10})
			e.must(err)
			e.equal("total", total, 1)
			e.equal("ListAudit", got, []console.AuditRecord{r})
			// Empty fields round-trip as empty.
			sys := console.AuditRecord{ID: e.id("aud_"), At: e.now, ActorKind: console.ActorSystem, Action: "claim.used", Result: "success"}
			e.must(e.s.AppendAudit(e.ctx, sys))
			got, _, err = e.s.ListAudit(e.ctx, console.AuditQuery{Limit: 1})
			e.must(err)
			e.equal("newest first", got, []console.AuditRecord{sys})
		}},
		{"Audit/FiltersAndPages", func(e *env) {
			var all []console.AuditRecord
			for i := range 30 {
				r := console.AuditRecord{ID: e.id("aud_"), At: e.at(time.Duration(i) * time.Minute),
					ActorID: fmt.Sprintf("usr_%d", i%3), ActorKind: console.ActorUser,
					Action: []string{"auth.login", "agent.created"}[i%2], Result: "success"}
				e.must(e.s.AppendAudit(e.ctx, r))
				all = append(all, r)
			}
			match := func(q console.AuditQuery) []console.AuditRecord {
				var out []console.AuditRecord
				for i := len(all) - 1; i >= 0; i-- {
					r := all[i]
					if (q.ActorID == "" || r.ActorID == q.ActorID) && (q.Action == "" || r.Action == q.Action) &&
						(q.From.IsZero() || !r.At.Before(q.From)) && (q.To.IsZero() || !r.At.After(q.To)) {
						out = append(out, r)
					}
				}
				return out
			}
			for _, q := range []console.AuditQuery{
				{},
				{ActorID: "usr_1"},
				{Action: "agent.created"},
				{ActorID: "usr_2", Action: "auth.login"},
				{From: e.at(5 * time.Minute), To: e.at(12 * time.Minute)}, // inclusive bounds
				{From: e.at(29 * time.Minute)},
				{To: e.now},
				{ActorID: "nobody"},
			} {
				want := match(q)
				var got []console.AuditRecord
				q.Limit = 4
				for page := 0; ; page++ {
					rs, total, err := e.s.ListAudit(e.ctx, q)
					e.must(err)
					e.equal(fmt.Sprintf("total of %+v", q), total, len(want))
					got = append(got, rs...)
					if len(rs) < q.Limit {
						break
					}
					q.Before = rs[len(rs)-1].ID
					if page > 20 {
						e.t.Fatal("pagination does not end")
					}
				}
				if want == nil {
					want = []console.AuditRecord(nil)
				}
				if len(got) == 0 {
					got = nil
				}
				e.equal(fmt.Sprintf("pages of %+v", q), got, want)
			}
		}},
		{"Audit/JoinsTransactions", func(e *env) {
			r := console.AuditRecord{ID: e.id("aud_"), At: e.now, ActorKind: console.ActorSystem, Action: "x", Result: "success"}
			err := e.s.InTx(e.ctx, func(ctx context.Context) error {
				e.must(e.s.AppendAudit(ctx, r))
				got, _, err := e.s.ListAudit(ctx, console.AuditQuery{Limit: 1})
				e.must(err)
				e.equal("visible inside the transaction", len(got), 1)
				return errBoom
			})
			e.is("InTx", err, errBoom)
			_, total, err := e.s.ListAudit(e.ctx, console.AuditQuery{Limit: 1})
			e.must(err)
			e.equal("rows after the rollback", total, 0)
		}},
	}
}
