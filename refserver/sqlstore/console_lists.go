package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wakelink-go/wakelink/auth"
	"github.com/wakelink-go/wakelink/restapi/console"
)

// likePattern returns a LIKE pattern matching s as a substring, ignoring
// ASCII case (compare with lower(column) … ESCAPE '\').
func likePattern(s string) string {
	var b strings.Builder
	b.WriteByte('%')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' || c == '_' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('%')
	return b.String()
}

// keyset returns the condition "(cols…) > (vals…)" (or < when desc),
// written out so it needs no row-value support and keeps each column's
// collation.
func keyset(cols []string, desc bool) string {
	op := " > "
	if desc {
		op = " < "
	}
	// c0 op ? OR (c0 = ? AND (c1 op ? OR (c1 = ? AND c2 op ?)))
	var b strings.Builder
	for i, c := range cols {
		if i == len(cols)-1 {
			b.WriteString(c + op + "?")
			break
		}
		b.WriteString("(" + c + op + "? OR (" + c + " = ? AND ")
	}
	for range len(cols) - 1 {
		b.WriteString("))")
	}
	return "(" + b.String() + ")"
}

// keysetArgs repeats the values as keyset's placeholders need them.
func keysetArgs(vals []any) []any {
	var out []any
	for i, v := range vals {
		if i == len(vals)-1 {
			out = append(out, v)
			break
		}
		out = append(out, v, v)
	}
	return out
}

func scanAgentRow(sc scanner) (console.AgentRow, error) {
	var r console.AgentRow
	a := &r.Agent
	err := sc.Scan(&a.OwnerID, &a.AgentID, &a.Name, &a.Platform, &a.Channel, &a.FirmwareVersion,
		listCol{&a.EWSPVersions}, targetsCol{&a.Targets}, msTime{&a.CreatedAt}, msTime{&a.UpdatedAt},
		msTime{&a.LastSeen}, &a.TokenHint, msTime{&a.TokenRotatedAt}, msTime{&a.BoundAt}, &r.RemoteIP)
	if err != nil {
		return r, fmt.Errorf("sqlstore: reading an agent: %w", err)
	}
	return r, nil
}

func (s consoleStore) ListAgents(ctx context.Context, q console.AgentQuery) ([]console.AgentRow, int, error) {
	var (
		where []string
		args  []any
	)
	if q.OwnerID != "" {
		where, args = append(where, `owner_id = ?`), append(args, q.OwnerID)
	}
	if q.Platform != "" {
		where, args = append(where, `platform = ?`), append(args, q.Platform)
	}
	if q.Channel != "" {
		where, args = append(where, `channel = ?`), append(args, q.Channel)
	}
	if q.Q != "" {
		p := likePattern(q.Q)
		where = append(where, `(lower(agent_id) LIKE ? ESCAPE '\' OR lower(name) LIKE ? ESCAPE '\')`)
		args = append(args, p, p)
	}
	switch q.RefsMode {
	case console.RefsOnly, console.RefsExcept:
		if len(q.Refs) == 0 {
			if q.RefsMode == console.RefsOnly {
				return nil, 0, nil
			}
			break
		}
		keys := make([]string, len(q.Refs))
		for i, r := range q.Refs {
			keys[i] = r.OwnerID + "/" + r.AgentID
		}
		doc, err := json.Marshal(keys)
		if err != nil {
			return nil, 0, fmt.Errorf("sqlstore: encoding agent ids: %w", err)
		}
		not := ""
		if q.RefsMode == console.RefsExcept {
			not = "NOT "
		}
		where = append(where, `(owner_id || '/' || agent_id) `+not+`IN (`+s.d.jsonStrings+`)`)
		args = append(args, string(doc))
	}
	total := 0
	if !q.SkipTotal {
		if err := s.queryRow(ctx, `SELECT count(*) FROM agents`+whereSQL(where), args...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("sqlstore: counting agents: %w", err)
		}
	}
	cols := []string{"agent_id", "owner_id"}
	var first any
	switch q.Sort {
	case console.SortName:
		cols = append([]string{"name" + s.d.collateC}, cols...)
	case console.SortLastSeen:
		cols = append([]string{"COALESCE(last_seen, 0)"}, cols...)
	case console.SortCreatedAt:
		cols = append([]string{"created_at"}, cols...)
	}
	if k := q.After; k != nil {
		vals := []any{k.AgentID, k.OwnerID}
		switch q.Sort {
		case console.SortName:
			first = k.Str
		case console.SortLastSeen, console.SortCreatedAt:
			first = k.Num
		}
		if first != nil {
			vals = append([]any{first}, vals...)
		}
		where = append(where, keyset(cols, q.Desc))
		args = append(args, keysetArgs(vals)...)
	}
	dir := " ASC"
	if q.Desc {
		dir = " DESC"
	}
	order := make([]string, len(cols))
	for i, c := range cols {
		order[i] = c + dir
	}
	rows, err := s.query(ctx, `SELECT `+agentCols+`, last_remote_ip FROM agents`+whereSQL(where)+
		` ORDER BY `+strings.Join(order, ", ")+` LIMIT ?`, append(args, sqlLimit(q.Limit))...)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: listing agents: %w", err)
	}
	out, err := collect(rows, scanAgentRow)
	return out, total, err
}

func (s consoleStore) AgentOwners(ctx context.Context, after string, limit int) ([]string, error) {
	rows, err := s.query(ctx, `SELECT DISTINCT owner_id FROM agents WHERE owner_id > ? ORDER BY owner_id LIMIT ?`, after, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: listing agent owners: %w", err)
	}
	return collect(rows, scanID)
}

func (s consoleStore) SetAgentRemoteIP(ctx context.Context, ownerID, agentID, ip string) error {
	res, err := s.exec(ctx, `UPDATE agents SET last_remote_ip = ? WHERE owner_id = ? AND agent_id = ?`, ip, ownerID, agentID)
	if err != nil {
		return fmt.Errorf("sqlstore: recording an agent's address: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlstore: recording an agent's address: %w", err)
	} else if n == 0 {
		return console.ErrStoreNotFound
	}
	return nil
}

func scanUserRow(sc scanner) (console.UserRow, error) {
	var r console.UserRow
	var n int
	u, err := scanUser(scannerFunc(func(dest ...any) error { return sc.Scan(append(dest, &n)...) }))
	if err != nil {
		return r, err
	}
	r.User, r.AgentsCount = u, n
	return r, nil
}

// scannerFunc adapts a function to scanner.
type scannerFunc func(dest ...any) error

func (f scannerFunc) Scan(dest ...any) error { return f(dest...) }

func (s consoleStore) ListUsers(ctx context.Context, q console.UserQuery) ([]console.UserRow, int, error) {
	var (
		where []string
		args  []any
	)
	if q.Q != "" {
		p := likePattern(q.Q)
		where = append(where, `(lower(username) LIKE ? ESCAPE '\' OR lower(email) LIKE ? ESCAPE '\')`)
		args = append(args, p, p)
	}
	if q.Username != "" {
		where, args = append(where, `lower(username) = ?`), append(args, strings.ToLower(q.Username))
	}
	if q.Role != "" {
		where, args = append(where, `role = ?`), append(args, string(q.Role))
	}
	if q.Disabled != nil {
		where, args = append(where, `disabled = ?`), append(args, *q.Disabled)
	}
	total := 0
	if !q.SkipTotal {
		if err := s.queryRow(ctx, `SELECT count(*) FROM users`+whereSQL(where), args...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("sqlstore: counting users: %w", err)
		}
	}
	if q.After != "" {
		where, args = append(where, `id > ?`), append(args, q.After)
	}
	rows, err := s.query(ctx, `SELECT `+userCols+`, (SELECT count(*) FROM agents a WHERE a.owner_id = users.id)
		FROM users`+whereSQL(where)+` ORDER BY id LIMIT ?`, append(args, sqlLimit(q.Limit))...)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlstore: listing users: %w", err)
	}
	out, err := collect(rows, scanUserRow)
	return out, total, err
}

func (s consoleStore) Counts(ctx context.Context, at time.Time) (console.Counts, error) {
	var c console.Counts
	now := at.UnixMilli()
	if err := s.queryRow(ctx, `SELECT count(*),
		COALESCE(SUM(CASE WHEN role = ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN disabled = ? THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN locked_until > ? THEN 1 ELSE 0 END), 0) FROM users`,
		string(auth.RoleAdmin), true, now).Scan(&c.Users, &c.Admins, &c.DisabledUsers, &c.LockedUsers); err != nil {
		return c, fmt.Errorf("sqlstore: counting users: %w", err)
	}
	rows, err := s.query(ctx, `SELECT platform, count(*) FROM agents GROUP BY platform`)
	if err != nil {
		return c, fmt.Errorf("sqlstore: counting agents: %w", err)
	}
	type pc struct {
		p string
		n int
	}
	pcs, err := collect(rows, func(sc scanner) (pc, error) {
		var x pc
		return x, sc.Scan(&x.p, &x.n)
	})
	if err != nil {
		return c, err
	}
	c.AgentsByPlatform = make(map[string]int, len(pcs))
	for _, x := range pcs {
		c.AgentsByPlatform[x.p] = x.n
		c.Agents += x.n
	}
	count := func(k auth.Kind) (int, error) {
		var n int
		err := s.queryRow(ctx, `SELECT count(*) FROM auth_credentials WHERE kind = ? AND `+liveAt, k.String(), now, now).Scan(&n)
		if err != nil {
			return 0, fmt.Errorf("sqlstore: counting credentials: %w", err)
		}
		return n, nil
	}
	if c.SessionsActive, err = count(auth.KindSession); err != nil {
		return c, err
	}
	if c.MCPTokensActive, err = count(auth.KindMCP); err != nil {
		return c, err
	}
	return c, nil
}
