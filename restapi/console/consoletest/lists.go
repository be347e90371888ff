package consoletest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/restapi/console"
)

// fleet creates two owners with agents whose names, platforms, creation
// times and last_seen vary (with ties, so the tie breakers matter).
func (e *env) fleet() (owners []auth.User, rows []console.AgentRow) {
	e.t.Helper()
	a, b := e.user("owner-a", auth.RoleUser), e.user("owner-b", auth.RoleUser)
	specs := []struct {
		owner          auth.User
		id, name, plat string
		created        time.Duration
		seen           time.Duration // 0: never
	}{
		{a, "pi", "Kitchen Pi", "linux-arm64", 0, 5 * time.Minute},
		{a, "nas", "nas", "linux-amd64", time.Minute, 0},
		{a, "WL0000AAAA", "Router", "linux-mipsle", time.Minute, 2 * time.Minute},
		{a, "esp.1", "ESP 100%_off", "esp32", 2 * time.Minute, 2 * time.Minute},
		{a, "esp-2", "zeta", "esp32", 3 * time.Minute, 0},
		{a, "b", "Kitchen Pi", "", 3 * time.Minute, 9 * time.Minute},
		{b, "pi", "Kitchen Pi", "linux-arm64", 0, 5 * time.Minute},
		{b, "garage", "Garage", "esp32", 4 * time.Minute, time.Minute},
		{b, "a_z", "ÄÖ unicode", "", 5 * time.Minute, 0},
	}
	for _, sp := range specs {
		ag := e.agent(sp.owner.ID, sp.id, sp.name, sp.plat, e.at(sp.created))
		if sp.seen != 0 {
			ag.LastSeen = e.at(sp.seen)
			e.must(e.a.UpdateAgent(e.ctx, ag))
		}
		rows = append(rows, console.AgentRow{Agent: ag})
	}
	return []auth.User{a, b}, rows
}

// agentOrder is the order of AgentQuery: the sort value, agent id, owner id.
func agentOrder(sort console.AgentSort, desc bool) func(x, y console.AgentRow) int {
	return func(x, y console.AgentRow) int {
		c := 0
		switch sort {
		case console.SortName:
			c = strings.Compare(x.Name, y.Name)
		case console.SortLastSeen:
			c = cmp.Compare(msOrZero(x.LastSeen), msOrZero(y.LastSeen))
		case console.SortCreatedAt:
			c = cmp.Compare(x.CreatedAt.UnixMilli(), y.CreatedAt.UnixMilli())
		}
		if c == 0 {
			c = strings.Compare(x.AgentID, y.AgentID)
		}
		if c == 0 {
			c = strings.Compare(x.OwnerID, y.OwnerID)
		}
		if desc {
			c = -c
		}
		return c
	}
}

func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func keyOf(r console.AgentRow, sort console.AgentSort) *console.AgentKey {
	k := &console.AgentKey{AgentID: r.AgentID, OwnerID: r.OwnerID}
	switch sort {
	case console.SortName:
		k.Str = r.Name
	case console.SortAgentID, "":
		k.Str = r.AgentID
	case console.SortLastSeen:
		k.Num = msOrZero(r.LastSeen)
	case console.SortCreatedAt:
		k.Num = r.CreatedAt.UnixMilli()
	}
	return k
}

func refsOf(rows []console.AgentRow) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r.OwnerID+"/"+r.AgentID)
	}
	return out
}

// walk pages through q (Limit per page) and returns every row and the
// totals reported.
func (e *env) walk(q console.AgentQuery) ([]console.AgentRow, []int) {
	e.t.Helper()
	var out []console.AgentRow
	var totals []int
	for page := 0; ; page++ {
		rows, total, err := e.s.ListAgents(e.ctx, q)
		e.must(err)
		out = append(out, rows...)
		totals = append(totals, total)
		if len(rows) < q.Limit {
			return out, totals
		}
		q.After = keyOf(rows[len(rows)-1], q.Sort)
		if page > 50 {
			e.t.Fatal("pagination does not end")
		}
	}
}

func agentCases() []testCase {
	return []testCase{
		{"Agents/SortsAndPages", func(e *env) {
			owners, all := e.fleet()
			for _, owner := range []string{"", owners[0].ID} {
				var want0 []console.AgentRow
				for _, r := range all {
					if owner == "" || r.OwnerID == owner {
						want0 = append(want0, r)
					}
				}
				for _, sort := range []console.AgentSort{console.SortAgentID, console.SortName, console.SortLastSeen, console.SortCreatedAt} {
					for _, desc := range []bool{false, true} {
						want := slices.Clone(want0)
						slices.SortFunc(want, agentOrder(sort, desc))
						for _, limit := range []int{1, 2, 4, 100} {
							got, totals := e.walk(console.AgentQuery{OwnerID: owner, Sort: sort, Desc: desc, Limit: limit})
							what := fmt.Sprintf("owner %q sort %s desc %v limit %d", owner, sort, desc, limit)
							e.equal(what, refsOf(got), refsOf(want))
							for _, tot := range totals {
								e.equal(what+": total", tot, len(want))
							}
						}
					}
				}
			}
		}},
		{"Agents/Filters", func(e *env) {
			owners, all := e.fleet()
			a := owners[0].ID
			filter := func(keep func(r console.AgentRow) bool) []console.AgentRow {
				var out []console.AgentRow
				for _, r := range all {
					if keep(r) {
						out = append(out, r)
					}
				}
				slices.SortFunc(out, agentOrder(console.SortAgentID, false))
				return out
			}
			for _, tc := range []struct {
				name string
				q    console.AgentQuery
				keep func(r console.AgentRow) bool
			}{
				{"platform", console.AgentQuery{Platform: "esp32"}, func(r console.AgentRow) bool { return r.Platform == "esp32" }},
				{"channel", console.AgentQuery{Channel: "beta"}, func(r console.AgentRow) bool { return false }},
				{"q id", console.AgentQuery{OwnerID: a, Q: "ESP"}, func(r console.AgentRow) bool {
					return r.OwnerID == a && (strings.Contains(strings.ToLower(r.AgentID), "esp") || strings.Contains(strings.ToLower(r.Name), "esp"))
				}},
				{"q name, case", console.AgentQuery{Q: "kitchen"}, func(r console.AgentRow) bool { return r.Name == "Kitchen Pi" }},
				{"q percent is literal", console.AgentQuery{Q: "100%_"}, func(r console.AgentRow) bool { return r.AgentID == "esp.1" }},
				{"q underscore is literal", console.AgentQuery{Q: "a_"}, func(r console.AgentRow) bool { return r.AgentID == "a_z" }},
				{"q dot", console.AgentQuery{Q: "."}, func(r console.AgentRow) bool { return r.AgentID == "esp.1" }},
				{"refs only", console.AgentQuery{RefsMode: console.RefsOnly, Refs: []console.AgentRef{{OwnerID: a, AgentID: "pi"}, {OwnerID: owners[1].ID, AgentID: "garage"}, {OwnerID: a, AgentID: "garage"}}},
					func(r console.AgentRow) bool {
						return (r.OwnerID == a && r.AgentID == "pi") || (r.OwnerID == owners[1].ID && r.AgentID == "garage")
					}},
				{"refs only, none", console.AgentQuery{RefsMode: console.RefsOnly, Refs: []console.AgentRef{}}, func(r console.AgentRow) bool { return false }},
				{"refs except", console.AgentQuery{OwnerID: a, RefsMode: console.RefsExcept, Refs: []console.AgentRef{{OwnerID: a, AgentID: "pi"}, {OwnerID: a, AgentID: "nas"}}},
					func(r console.AgentRow) bool { return r.OwnerID == a && r.AgentID != "pi" && r.AgentID != "nas" }},
				{"refs except, none", console.AgentQuery{OwnerID: a, RefsMode: console.RefsExcept}, func(r console.AgentRow) bool { return r.OwnerID == a }},
				{"combined", console.AgentQuery{OwnerID: a, Platform: "esp32", Q: "zeta"}, func(r console.AgentRow) bool { return r.AgentID == "esp-2" }},
			} {
				want := filter(tc.keep)
				q := tc.q
				q.Limit = 2
				got, totals := e.walk(q)
				e.equal(tc.name, refsOf(got), refsOf(want))
				for _, tot := range totals {
					e.equal(tc.name+": total", tot, len(want))
				}
				q.SkipTotal, q.After = true, nil
				_, tot, err := e.s.ListAgents(e.ctx, q)
				e.must(err)
				e.equal(tc.name+": SkipTotal", tot, 0)
			}
		}},
		{"Agents/RowContent", func(e *env) {
			u := e.user("alice", auth.RoleUser)
			ag := auth.Agent{OwnerID: u.ID, AgentID: "pi", Name: "Pi", Platform: "linux-arm64", Channel: "beta",
				FirmwareVersion: "1.2.3", EWSPVersions: []string{"1.0", "2"}, CreatedAt: e.now, UpdatedAt: e.at(time.Second),
				Targets: []auth.Target{{Name: "desk", MAC: "AA:BB:CC:DD:EE:FF", Broadcast: "192.168.1.255", Port: 9}}}
			e.must(e.a.CreateAgent(e.ctx, ag, 0))
			e.is("SetAgentRemoteIP of an unknown agent", e.s.SetAgentRemoteIP(e.ctx, u.ID, "nope", "192.0.2.1"), console.ErrStoreNotFound)
			e.must(e.s.SetAgentRemoteIP(e.ctx, u.ID, "pi", "2001:db8::1"))
			rows, total, err := e.s.ListAgents(e.ctx, console.AgentQuery{OwnerID: u.ID, Limit: 10})
			e.must(err)
			e.equal("total", total, 1)
			e.equal("row", rows, []console.AgentRow{{Agent: ag, RemoteIP: "2001:db8::1"}})
			// auth's UpdateAgent keeps the address.
			ag.Name = "Pi 2"
			e.must(e.a.UpdateAgent(e.ctx, ag))
			rows, _, err = e.s.ListAgents(e.ctx, console.AgentQuery{OwnerID: u.ID, Limit: 10})
			e.must(err)
			e.equal("address after UpdateAgent", rows[0].RemoteIP, "2001:db8::1")
		}},
		{"Agents/Owners", func(e *env) {
			owners, _ := e.fleet()
			e.user("no-agents", auth.RoleUser)
			got, err := e.s.AgentOwners(e.ctx, "", 10)
			e.must(err)
			want := []string{owners[0].ID, owners[1].ID}
			slices.Sort(want)
			e.equal("AgentOwners", got, want)
			got, err = e.s.AgentOwners(e.ctx, want[0], 10)
			e.must(err)
			e.equal("AgentOwners after the first", got, want[1:])
			got, err = e.s.AgentOwners(e.ctx, "", 1)
			e.must(err)
			e.equal("AgentOwners limit 1", got, want[:1])
		}},
	}
}
