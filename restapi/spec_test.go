package restapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/getkin/kin-openapi/openapi3"
)

const specPath = "../openapi.yaml"

// loadSpec loads /openapi.yaml the way the generator does (kin-openapi's loader).
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(specPath)
	if err != nil {
		t.Fatalf("loading %s: %v", specPath, err)
	}
	return doc
}

// TestSpecValidates runs kin-openapi's validator over the whole document, examples included
// (they are checked against their schemas by default).
func TestSpecValidates(t *testing.T) {
	doc := loadSpec(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	if doc.Info == nil || doc.Info.Version != "1" {
		t.Errorf("info.version must be \"1\"")
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.yaml does not validate: %v", err)
	}
}

// TestEmbeddedSpecEqualsFile checks that api.gen.go was generated from the current
// openapi.yaml: the embedded spec (served as /api/openapi.json) equals the file.
func TestEmbeddedSpecEqualsFile(t *testing.T) {
	fromFile, err := json.Marshal(loadSpec(t))
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := GetSpec()
	if err != nil {
		t.Fatalf("GetSpec: %v", err)
	}
	fromEmbedded, err := json.Marshal(embedded)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fromFile, fromEmbedded) {
		t.Fatalf("the spec embedded in api.gen.go differs from %s: run go generate ./restapi/\n%s",
			specPath, firstDifference(fromFile, fromEmbedded))
	}
	raw, err := GetSpecJSON()
	if err != nil {
		t.Fatalf("GetSpecJSON: %v", err)
	}
	var a, b any
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("GetSpecJSON is not JSON: %v", err)
	}
	if err := json.Unmarshal(fromFile, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("GetSpecJSON differs from %s: run go generate ./restapi/", specPath)
	}
}

func firstDifference(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(i-80, 0)
	return fmt.Sprintf("file:     …%s…\nembedded: …%s…", a[lo:min(i+80, len(a))], b[lo:min(i+80, len(b))])
}

// expectedOperations is every endpoint of API.md §3 in the four layers, except OTA release
// management (/releases…), backups (/backups…) and MCP (/mcp-access…, /mcp), which later
// issues add. operationId → "METHOD /path".
var expectedOperations = map[string]string{
	// §3.1 auth
	"getAuthConfig":           "GET /api/v1/auth/config",
	"setup":                   "POST /api/v1/auth/setup",
	"register":                "POST /api/v1/auth/register",
	"login":                   "POST /api/v1/auth/login",
	"createSession":           "POST /api/v1/auth/session",
	"listSessions":            "GET /api/v1/auth/sessions",
	"deleteSession":           "DELETE /api/v1/auth/sessions/{session_id}",
	"rotateApiToken":          "POST /api/v1/auth/token/rotate",
	"refreshToken":            "POST /api/v1/auth/refresh",
	"logout":                  "POST /api/v1/auth/logout",
	"logoutEverywhere":        "POST /api/v1/auth/logout-everywhere",
	"getMe":                   "GET /api/v1/auth/me",
	"changePassword":          "POST /api/v1/auth/password",
	"enrollTotp":              "POST /api/v1/auth/totp/enroll",
	"confirmTotp":             "POST /api/v1/auth/totp/confirm",
	"regenerateRecoveryCodes": "POST /api/v1/auth/totp/recovery-codes",
	"disableTotp":             "POST /api/v1/auth/totp/disable",
	// §3.2 agents, claim codes, presence
	"createAgent":      "POST /api/v1/agents",
	"listAgents":       "GET /api/v1/agents",
	"getAgentPresence": "GET /api/v1/agents/presence",
	"getAgent":         "GET /api/v1/agents/{agent_id}",
	"updateAgent":      "PATCH /api/v1/agents/{agent_id}",
	"deleteAgent":      "DELETE /api/v1/agents/{agent_id}",
	"rotateAgentToken": "POST /api/v1/agents/{agent_id}/rotate-token",
	"createClaimCode":  "POST /api/v1/claim-codes",
	"listClaimCodes":   "GET /api/v1/claim-codes",
	"deleteClaimCode":  "DELETE /api/v1/claim-codes/{claim_id}",
	// §3.3 client binding
	"bindAgent": "POST /api/client/bind",
	// §3.6 events
	"createEventTicket": "POST /api/v1/events/ticket",
	"streamEvents":      "GET /api/v1/events",
	// §3.8 settings
	"getSettings":    "GET /api/v1/settings",
	"updateSettings": "PATCH /api/v1/settings",
	"getUiSettings":  "GET /api/v1/settings/ui",
	"putUiSettings":  "PUT /api/v1/settings/ui",
	// §3.9 system
	"getSystemHealth":  "GET /api/v1/system/health",
	"getSystemVersion": "GET /api/v1/system/version",
	"getSystemStatus":  "GET /api/v1/system/status",
	// §3.10 admin
	"getAdminStats":     "GET /api/v1/admin/stats",
	"listUsers":         "GET /api/v1/admin/users",
	"createUser":        "POST /api/v1/admin/users",
	"getUser":           "GET /api/v1/admin/users/{user_id}",
	"updateUser":        "PATCH /api/v1/admin/users/{user_id}",
	"unlockUser":        "POST /api/v1/admin/users/{user_id}/unlock",
	"resetUserPassword": "POST /api/v1/admin/users/{user_id}/reset-password",
	"deleteUser":        "DELETE /api/v1/admin/users/{user_id}",
	"listAllAgents":     "GET /api/v1/admin/agents",
	"listAuditLog":      "GET /api/v1/admin/audit",
	// §3.12 internal
	"relayAuthz":      "POST /api/internal/relay/authz",
	"relayRevalidate": "POST /api/internal/relay/revalidate",
	"relayPresence":   "POST /api/internal/relay/presence",
	"relayAgents":     "POST /api/internal/relay/agents",
	// §3.13 dev
	"devReset": "POST /api/v0/dev/reset",
	"devSeed":  "POST /api/v0/dev/seed",
	"devClock": "POST /api/v0/dev/clock",
}

// expectedAuth is API.md's Auth column for each operation (x-wakelink-auth).
var expectedAuth = map[string]string{
	"getAuthConfig": "none", "setup": "none", "register": "none", "login": "none",
	"createSession": "JWT or wl_", "listSessions": "C", "deleteSession": "C",
	"rotateApiToken": "I", "refreshToken": "JWT or wls_ (password)", "logout": "JWT or wls_",
	"logoutEverywhere": "I", "getMe": "C", "changePassword": "I", "enrollTotp": "I",
	"confirmTotp": "I", "regenerateRecoveryCodes": "I", "disableTotp": "I",
	"createAgent": "C", "listAgents": "C", "getAgentPresence": "C", "getAgent": "C",
	"updateAgent": "C", "deleteAgent": "C", "rotateAgentToken": "C", "createClaimCode": "C",
	"listClaimCodes": "C", "deleteClaimCode": "C",
	"bindAgent":         "code",
	"createEventTicket": "C", "streamEvents": "C or ticket",
	"getSettings": "A", "updateSettings": "A", "getUiSettings": "C", "putUiSettings": "C",
	"getSystemHealth": "none", "getSystemVersion": "none", "getSystemStatus": "A",
	"getAdminStats": "C (admin)", "listUsers": "A", "createUser": "A", "getUser": "A",
	"updateUser": "A", "unlockUser": "A", "resetUserPassword": "A", "deleteUser": "A",
	"listAllAgents": "A", "listAuditLog": "A",
	"relayAuthz": "K", "relayRevalidate": "K", "relayPresence": "K", "relayAgents": "K",
	"devReset": "none", "devSeed": "none", "devClock": "none",
}

// Operations marked Idem in API.md (in scope).
var idempotentOperations = []string{"createAgent", "createClaimCode", "createUser"}

// Operations answering 201 (API.md: create → 201).
var createdOperations = []string{"setup", "register", "createSession", "createAgent", "createClaimCode", "bindAgent", "createUser", "devSeed"}

// Operations outside /api/v1/auth/ whose success answer carries a secret or a stream, so
// Cache-Control: no-store (API.md §1.2).
var noStoreOperations = []string{"createAgent", "rotateAgentToken", "createClaimCode", "bindAgent",
	"createEventTicket", "streamEvents", "relayAuthz", "devSeed"}

// Operations that work before the first user exists (API.md §2 SETUP_REQUIRED).
var setupExempt = []string{"getAuthConfig", "setup", "getSystemHealth", "getSystemVersion"}

// Operations with a per-client-IP rate limit besides the per-principal one (API.md §1.8).
var ipRateLimited = []string{"setup", "register", "login", "bindAgent"}

// errorCatalog is API.md §2, copied: code → HTTP status (0 where the code is not an HTTP
// answer: MCP tool results and relay frames).
var errorCatalog = map[string]int{
	// request
	"VALIDATION_FAILED": 400, "UNSUPPORTED_MEDIA_TYPE": 415, "NOT_FOUND": 404,
	"METHOD_NOT_ALLOWED": 405, "UPLOAD_TOO_LARGE": 413, "RANGE_NOT_SATISFIABLE": 416,
	"UPGRADE_REQUIRED": 426, "IDEMPOTENCY_KEY_REUSED": 409,
	// origin
	"HOST_REJECTED": 403, "ORIGIN_REJECTED": 403,
	// auth
	"SETUP_REQUIRED": 428, "ALREADY_INITIALIZED": 409, "REGISTRATION_DISABLED": 403,
	"AUTH_REQUIRED": 401, "INVALID_TOKEN": 401, "TOKEN_EXPIRED": 401, "TOKEN_REVOKED": 401,
	"TOKEN_SCOPE_MISMATCH": 403, "INVALID_CREDENTIALS": 401, "TOTP_REQUIRED": 401,
	"TOTP_INVALID": 401, "ACCOUNT_LOCKED": 423, "ACCOUNT_DISABLED": 403, "REAUTH_REQUIRED": 401,
	"PASSWORD_TOO_WEAK": 400, "PASSWORD_UNCHANGED": 400, "TOTP_ALREADY_ENABLED": 409,
	"TOTP_NOT_ENABLED": 409, "TOTP_NOT_ENROLLED": 409, "CLAIM_CODE_INVALID": 401,
	"CLAIM_CODE_EXPIRED": 401, "CLAIM_CODE_USED": 409, "INTERNAL_KEY_INVALID": 401,
	// permission
	"FORBIDDEN": 403, "LAST_ADMIN": 409,
	// not found
	"USER_NOT_FOUND": 404, "AGENT_NOT_FOUND": 404, "SESSION_NOT_FOUND": 404,
	"CLAIM_CODE_NOT_FOUND": 404, "RELEASE_NOT_FOUND": 404, "ROLLOUT_NOT_FOUND": 404,
	"SIGNING_KEY_NOT_FOUND": 404, "SNAPSHOT_NOT_FOUND": 404, "MCP_TOKEN_NOT_FOUND": 404,
	// conflict
	"USERNAME_TAKEN": 409, "AGENT_ID_TAKEN": 409, "MCP_TOKEN_NAME_TAKEN": 409,
	"SIGNING_KEY_EXISTS": 409, "RELEASE_EXISTS": 409, "RELEASE_IN_USE": 409,
	"ROLLOUT_ACTIVE": 409, "ROLLOUT_STATE_INVALID": 409, "BACKUP_IN_PROGRESS": 409,
	"RESTORE_TARGET_NOT_EMPTY": 409,
	// limit
	"DEVICE_LIMIT_REACHED": 409, "CLAIM_CODE_LIMIT_REACHED": 409,
	"MCP_TOKEN_LIMIT_REACHED": 409, "RATE_LIMITED": 429,
	// OTA
	"MANIFEST_INVALID": 422, "DIGEST_MISMATCH": 422, "SIGNATURE_INVALID": 422,
	"SIGNING_KEY_UNKNOWN": 422, "RELEASE_YANKED": 410,
	// backup
	"SNAPSHOT_INVALID": 422, "SNAPSHOT_PASSPHRASE_INVALID": 422, "STORAGE_FULL": 507,
	// MCP
	"CONFIRMATION_DECLINED": 0, "CONFIRMATION_UNSUPPORTED": 0,
	// internal
	"INTERNAL_ERROR": 500, "SERVICE_UNAVAILABLE": 503,
	// relay
	"AUTH_TIMEOUT": 0, "INVALID_MESSAGE": 0, "UNKNOWN_TYPE": 0, "AGENT_MISMATCH": 0,
	"CONNECTION_LIMIT": 0,
}

// The relay auth failure codes of API.md §4.2.
var relayAuthCodes = []string{"AUTH_TIMEOUT", "AUTH_REQUIRED", "INVALID_MESSAGE", "INVALID_TOKEN",
	"TOKEN_EXPIRED", "TOKEN_REVOKED", "TOKEN_SCOPE_MISMATCH", "AGENT_MISMATCH", "ACCOUNT_DISABLED",
	"CONNECTION_LIMIT", "RATE_LIMITED"}

// errorResponseComponent names the shared response of each error status.
var errorResponseComponent = map[string]string{
	"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound",
	"409": "Conflict", "415": "UnsupportedMediaType", "423": "Locked", "428": "SetupRequired",
	"429": "TooManyRequests", "500": "InternalError", "503": "ServiceUnavailable",
}

// Error responses that must carry a header besides X-Request-ID.
var errorResponseHeaders = map[string]string{
	"Unauthorized": "WWW-Authenticate", "Locked": "Retry-After",
	"TooManyRequests": "Retry-After", "ServiceUnavailable": "Retry-After",
}

type operation struct {
	id, method, path string
	op               *openapi3.Operation
}

func operations(t *testing.T, doc *openapi3.T) []operation {
	t.Helper()
	var ops []operation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops = append(ops, operation{op.OperationID, method, path, op})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].method+ops[i].path < ops[j].method+ops[j].path })
	return ops
}

func TestOperationsMatchAPIMD(t *testing.T) {
	doc := loadSpec(t)
	got := map[string]string{}
	for _, o := range operations(t, doc) {
		if o.id == "" {
			t.Errorf("%s %s: no operationId", o.method, o.path)
			continue
		}
		if _, dup := got[o.id]; dup {
			t.Errorf("operationId %s is used twice", o.id)
		}
		got[o.id] = o.method + " " + o.path
	}
	for id, want := range expectedOperations {
		if got[id] != want {
			t.Errorf("operation %s: got %q, want %q", id, got[id], want)
		}
	}
	for id, route := range got {
		if _, ok := expectedOperations[id]; !ok {
			t.Errorf("operation %s (%s) is not an in-scope endpoint of API.md", id, route)
		}
	}
	for id := range expectedOperations {
		if _, ok := expectedAuth[id]; !ok {
			t.Errorf("expectedAuth lacks %s", id)
		}
	}
}

func extString(ext map[string]any, key string) (string, bool) {
	v, ok := ext[key]
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

func extStrings(ext map[string]any, key string) ([]string, bool) {
	v, ok := ext[key]
	if !ok {
		return nil, false
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func ucFirst(s string) string {
	if s == "" {
		return s
	}
	return string(unicode.ToUpper(rune(s[0]))) + s[1:]
}

var lowerCamel = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)

// TestOperationConventions checks each operation against API.md §1–§3 and the conventions
// stated at the top of openapi.yaml.
func TestOperationConventions(t *testing.T) {
	doc := loadSpec(t)
	authKinds, ok := doc.Extensions["x-wakelink-auth-kinds"].(map[string]any)
	if !ok || len(authKinds) == 0 {
		t.Fatal("x-wakelink-auth-kinds missing at the root")
	}
	tags := map[string]bool{}
	for _, tg := range doc.Tags {
		tags[tg.Name] = true
	}
	for _, o := range operations(t, doc) {
		t.Run(o.id, func(t *testing.T) {
			op := o.op
			if !lowerCamel.MatchString(o.id) {
				t.Errorf("operationId %q is not lowerCamelCase", o.id)
			}
			if op.Summary == "" || op.Description == "" {
				t.Errorf("summary and description are required")
			}
			if len(op.Tags) != 1 || !tags[op.Tags[0]] {
				t.Errorf("tags = %v, want one declared tag", op.Tags)
			}

			// Auth.
			auth, ok := extString(op.Extensions, "x-wakelink-auth")
			if !ok {
				t.Fatalf("no x-wakelink-auth")
			}
			if _, ok := authKinds[auth]; !ok {
				t.Errorf("x-wakelink-auth %q is not in x-wakelink-auth-kinds", auth)
			}
			if want := expectedAuth[o.id]; auth != want {
				t.Errorf("x-wakelink-auth = %q, want %q (API.md Auth column)", auth, want)
			}
			if op.Security == nil {
				t.Fatalf("security must be explicit on every operation")
			}
			var schemes []string
			for _, req := range *op.Security {
				for name := range req {
					schemes = append(schemes, name)
				}
			}
			sort.Strings(schemes)
			var wantSchemes []string
			switch auth {
			case "none", "code":
			case "K":
				wantSchemes = []string{"internalKey"}
			case "C or ticket":
				wantSchemes = []string{"bearerAuth", "eventTicket"}
			default:
				wantSchemes = []string{"bearerAuth"}
			}
			if !slices.Equal(schemes, wantSchemes) {
				t.Errorf("security schemes = %v, want %v for auth %q", schemes, wantSchemes, auth)
			}
			if !strings.Contains(op.Description, "Auth:") {
				t.Errorf("description must state the accepted credentials (\"Auth: …\")")
			}

			// Success response.
			responses := op.Responses.Map()
			var success []string
			for code := range responses {
				if strings.HasPrefix(code, "2") {
					success = append(success, code)
				}
			}
			wantStatus := "200"
			if slices.Contains(createdOperations, o.id) {
				wantStatus = "201"
			}
			if len(success) != 1 || success[0] != wantStatus {
				t.Fatalf("2xx responses = %v, want [%s]", success, wantStatus)
			}
			ok2xx := responses[wantStatus].Value
			if ok2xx.Headers["X-Request-ID"] == nil {
				t.Errorf("%s response lacks the X-Request-ID header", wantStatus)
			}
			noStore := strings.HasPrefix(o.path, "/api/v1/auth/") || slices.Contains(noStoreOperations, o.id)
			if hasCC := ok2xx.Headers["Cache-Control"] != nil; hasCC != noStore {
				t.Errorf("Cache-Control header on the %s response: got %v, want %v", wantStatus, hasCC, noStore)
			}
			if o.id == "streamEvents" {
				if len(ok2xx.Content) != 1 || ok2xx.Content["text/event-stream"] == nil {
					t.Errorf("GET /events must answer text/event-stream only")
				}
			} else {
				mt := ok2xx.Content["application/json"]
				if len(ok2xx.Content) != 1 || mt == nil || mt.Schema == nil {
					t.Fatalf("%s response must have one application/json schema", wantStatus)
				}
				wantRef := "#/components/schemas/" + ucFirst(o.id) + "Envelope"
				if mt.Schema.Ref != wantRef {
					t.Errorf("success schema = %q, want %q", mt.Schema.Ref, wantRef)
				}
			}

			// Idempotency.
			hasIdem := false
			var pathParams, otherParams int
			for _, p := range op.Parameters {
				switch {
				case p.Ref == "#/components/parameters/IdempotencyKey":
					hasIdem = true
				case p.Value.In == openapi3.ParameterInPath:
					pathParams++
				default:
					otherParams++
				}
			}
			if want := slices.Contains(idempotentOperations, o.id); hasIdem != want {
				t.Errorf("Idempotency-Key parameter: got %v, want %v (API.md Idem)", hasIdem, want)
			} else if hasIdem && ok2xx.Headers["Idempotent-Replayed"] == nil {
				t.Errorf("idempotent operation lacks the Idempotent-Replayed header")
			}

			// Error responses.
			layer := strings.SplitN(strings.TrimPrefix(o.path, "/api/"), "/", 2)[0]
			public := layer == "v1" || layer == "client"
			bearer := slices.Contains(schemes, "bearerAuth")
			hasBody := op.RequestBody != nil
			want := map[string]bool{"500": true, "503": true}
			if hasBody || pathParams > 0 || otherParams > 0 || hasIdem {
				want["400"] = true
			}
			if hasBody {
				want["415"] = true
			}
			if pathParams > 0 || layer == "v0" {
				want["404"] = true
			}
			if hasIdem {
				want["409"] = true
			}
			if bearer || slices.Contains(wantSchemes, "internalKey") {
				want["401"] = true
			}
			if public || layer == "v0" {
				want["403"] = true
			}
			if bearer || slices.Contains(ipRateLimited, o.id) {
				want["429"] = true
			}
			if public && !slices.Contains(setupExempt, o.id) {
				want["428"] = true
			}
			specific, ok := extStrings(op.Extensions, "x-wakelink-errors")
			if !ok {
				t.Errorf("x-wakelink-errors missing (use [] when API.md lists none)")
			}
			for _, code := range specific {
				status, known := errorCatalog[code]
				if !known || status == 0 {
					t.Errorf("x-wakelink-errors: %s is not an HTTP code of API.md §2", code)
					continue
				}
				want[strconv.Itoa(status)] = true
			}
			for code := range want {
				if responses[code] == nil {
					t.Errorf("missing %s response", code)
				}
			}
			for code, ref := range responses {
				if strings.HasPrefix(code, "2") {
					continue
				}
				name, known := errorResponseComponent[code]
				if !known {
					t.Errorf("response %s: no shared error response for that status", code)
					continue
				}
				if ref.Ref != "#/components/responses/"+name {
					t.Errorf("response %s = %q, want the shared #/components/responses/%s", code, ref.Ref, name)
				}
				if !want[code] {
					t.Errorf("response %s is listed but nothing in API.md produces it here", code)
				}
			}
		})
	}
}

// TestErrorResponses checks the shared error responses: the envelope, X-Request-ID and the
// headers API.md requires (WWW-Authenticate on 401, Retry-After on 423/429/503).
func TestErrorResponses(t *testing.T) {
	doc := loadSpec(t)
	for status, name := range errorResponseComponent {
		ref := doc.Components.Responses[name]
		if ref == nil || ref.Value == nil {
			t.Errorf("components/responses/%s missing", name)
			continue
		}
		r := ref.Value
		mt := r.Content["application/json"]
		if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/ErrorEnvelope" {
			t.Errorf("%s (%s): schema must be ErrorEnvelope", name, status)
		}
		if r.Headers["X-Request-ID"] == nil {
			t.Errorf("%s: no X-Request-ID header", name)
		}
		if h := errorResponseHeaders[name]; h != "" {
			if r.Headers[h] == nil || !r.Headers[h].Value.Required {
				t.Errorf("%s: header %s must be present and required", name, h)
			}
		}
	}
}

func enumStrings(t *testing.T, s *openapi3.Schema) []string {
	t.Helper()
	out := make([]string, 0, len(s.Enum))
	for _, v := range s.Enum {
		str, ok := v.(string)
		if !ok {
			t.Fatalf("enum value %v is not a string", v)
		}
		out = append(out, str)
	}
	return out
}

// TestErrorCatalog checks that ErrorCode is exactly API.md §2.
func TestErrorCatalog(t *testing.T) {
	doc := loadSpec(t)
	schema := doc.Components.Schemas["ErrorCode"].Value
	codes := enumStrings(t, schema)
	seen := map[string]bool{}
	for _, c := range codes {
		if seen[c] {
			t.Errorf("ErrorCode lists %s twice", c)
		}
		seen[c] = true
		if _, ok := errorCatalog[c]; !ok {
			t.Errorf("ErrorCode has %s, which is not in API.md §2", c)
		}
	}
	for c := range errorCatalog {
		if !seen[c] {
			t.Errorf("ErrorCode lacks %s (API.md §2)", c)
		}
	}
	names, ok := extStrings(schema.Extensions, "x-enum-varnames")
	if !ok || len(names) != len(codes) {
		t.Fatalf("x-enum-varnames must name each of the %d codes", len(codes))
	}
	for i, c := range codes {
		if want := strings.ReplaceAll(c, "_", ""); !strings.EqualFold(names[i], want) {
			t.Errorf("x-enum-varnames[%d] = %s does not name %s", i, names[i], c)
		}
	}

	relay := enumStrings(t, doc.Components.Schemas["RelayAuthErrorCode"].Value)
	if !slices.Equal(relay, relayAuthCodes) {
		t.Errorf("RelayAuthErrorCode = %v, want %v (API.md §4.2)", relay, relayAuthCodes)
	}
	for _, c := range relay {
		if !seen[c] {
			t.Errorf("RelayAuthErrorCode %s is not in ErrorCode", c)
		}
	}
}

// TestErrorCatalogAgainstAPIMD compares the copied catalog with API.md itself when the
// project's shared folder is next to the repository (WAKELINK_API_MD names another copy).
func TestErrorCatalogAgainstAPIMD(t *testing.T) {
	path := os.Getenv("WAKELINK_API_MD")
	if path == "" {
		path = filepath.Join("..", "..", "shared", "API.md")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("API.md not found (%v); the embedded copy of the catalog is checked by TestErrorCatalog", err)
	}
	defer f.Close()
	codeRe := regexp.MustCompile(`\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|\bFORBIDDEN\b`)
	statusRe := regexp.MustCompile(`\d{3}|—`)
	got := map[string]int{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## 2."):
			in = true
			continue
		case strings.HasPrefix(line, "## ") && in:
			in = false
		}
		if !in || !strings.HasPrefix(line, "|") {
			continue
		}
		cols := strings.Split(line, "|")
		if len(cols) < 5 || strings.TrimSpace(cols[2]) == "Code" || strings.HasPrefix(strings.TrimSpace(cols[2]), "---") {
			continue
		}
		codes := codeRe.FindAllString(cols[2], -1)
		statuses := statusRe.FindAllString(cols[3], -1)
		for i, c := range codes {
			s := statuses[0]
			if len(statuses) == len(codes) {
				s = statuses[i]
			}
			n, _ := strconv.Atoi(s) // "—" → 0
			got[c] = n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatalf("no error catalog found in %s", path)
	}
	if !reflect.DeepEqual(got, errorCatalog) {
		for c, s := range got {
			if errorCatalog[c] != s {
				t.Errorf("API.md: %s → %d, test copy has %d", c, s, errorCatalog[c])
			}
		}
		for c := range errorCatalog {
			if _, ok := got[c]; !ok {
				t.Errorf("test copy has %s, API.md does not", c)
			}
		}
	}
}

// requestBodySchemas returns operationId → the request body's JSON schema.
func requestBodySchemas(t *testing.T, doc *openapi3.T) map[string]*openapi3.SchemaRef {
	t.Helper()
	out := map[string]*openapi3.SchemaRef{}
	for _, o := range operations(t, doc) {
		if o.op.RequestBody == nil {
			continue
		}
		rb := o.op.RequestBody.Value
		mt := rb.Content["application/json"]
		if len(rb.Content) != 1 || mt == nil || mt.Schema == nil {
			t.Errorf("%s: the request body must be application/json only", o.id)
			continue
		}
		if mt.Schema.Ref == "" {
			t.Errorf("%s: the request body schema must be a named component", o.id)
		}
		out[o.id] = mt.Schema
	}
	return out
}

func isType(s *openapi3.Schema, typ string) bool { return s.Type != nil && s.Type.Is(typ) }

// TestRequestBodiesAreClosed: unknown fields must be rejected (API.md §1.2), so every object
// schema reachable from a request body has additionalProperties: false.
func TestRequestBodiesAreClosed(t *testing.T) {
	doc := loadSpec(t)
	var walk func(where string, s *openapi3.SchemaRef)
	walk = func(where string, s *openapi3.SchemaRef) {
		v := s.Value
		if len(v.AllOf) > 0 || len(v.OneOf) > 0 || len(v.AnyOf) > 0 {
			t.Errorf("%s: request schemas are plain objects (no allOf/oneOf/anyOf)", where)
		}
		if isType(v, "object") {
			if ap := v.AdditionalProperties; ap.Has == nil || *ap.Has || ap.Schema != nil {
				t.Errorf("%s: additionalProperties must be false", where)
			}
			for name, p := range v.Properties {
				walk(where+"."+name, p)
			}
		}
		if v.Items != nil {
			walk(where+"[]", v.Items)
		}
	}
	for id, s := range requestBodySchemas(t, doc) {
		walk(id, s)
	}
}

// builtinRules are the validator/v10 tags the derived tags use besides the rules declared
// in x-wakelink-validate-rules.
var builtinRules = []string{"required", "omitempty", "min", "max", "unique", "oneof", "dive"}

type validateRule struct {
	pattern  string
	semantic bool // not derivable from the schema: checked by restapi's validator only
}

func validateRules(t *testing.T, doc *openapi3.T) map[string]validateRule {
	t.Helper()
	raw, ok := doc.Extensions["x-wakelink-validate-rules"].(map[string]any)
	if !ok || len(raw) == 0 {
		t.Fatal("x-wakelink-validate-rules missing at the root")
	}
	rules := map[string]validateRule{}
	for name, v := range raw {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("x-wakelink-validate-rules.%s is not an object", name)
		}
		if d, _ := m["description"].(string); d == "" {
			t.Errorf("x-wakelink-validate-rules.%s: description missing", name)
		}
		p, _ := m["pattern"].(string)
		if p != "" {
			if _, err := regexp.Compile(p); err != nil {
				t.Errorf("x-wakelink-validate-rules.%s: pattern does not compile: %v", name, err)
			}
		}
		// email and ipv4 are derived from the schema's format.
		rules[name] = validateRule{pattern: p, semantic: p == "" && name != "email" && name != "ipv4"}
	}
	return rules
}

func formatBound(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// deriveRules returns the validator rules that follow from a schema (without the leading
// required/omitempty).
func deriveRules(t *testing.T, where string, s *openapi3.Schema, rules map[string]validateRule) []string {
	var out []string
	switch {
	case isType(s, "string"):
		if s.MinLength > 0 {
			out = append(out, fmt.Sprintf("min=%d", s.MinLength))
		}
		if s.MaxLength != nil {
			out = append(out, fmt.Sprintf("max=%d", *s.MaxLength))
		}
	case isType(s, "integer"), isType(s, "number"):
		if s.Min != nil {
			out = append(out, "min="+formatBound(*s.Min))
		}
		if s.Max != nil {
			out = append(out, "max="+formatBound(*s.Max))
		}
	case isType(s, "array"):
		if s.MinItems > 0 {
			out = append(out, fmt.Sprintf("min=%d", s.MinItems))
		}
		if s.MaxItems != nil {
			out = append(out, fmt.Sprintf("max=%d", *s.MaxItems))
		}
		if s.UniqueItems {
			out = append(out, "unique")
		}
	}
	if len(s.Enum) > 0 {
		vals := make([]string, 0, len(s.Enum))
		for _, e := range s.Enum {
			vals = append(vals, fmt.Sprint(e))
		}
		out = append(out, "oneof="+strings.Join(vals, " "))
	}
	switch s.Format {
	case "email", "ipv4":
		out = append(out, s.Format)
	case "", "date-time", "int64":
	default:
		t.Errorf("%s: format %q has no validator rule", where, s.Format)
	}
	if s.Pattern != "" {
		var name string
		for n, r := range rules {
			if r.pattern == s.Pattern {
				name = n
			}
		}
		if name == "" {
			t.Errorf("%s: pattern %q matches no rule of x-wakelink-validate-rules", where, s.Pattern)
		} else {
			out = append(out, name)
		}
	}
	if isType(s, "array") && s.Items != nil {
		item := s.Items.Value
		if isType(item, "object") {
			out = append(out, "dive")
		} else if itemRules := deriveRules(t, where+"[]", item, rules); len(itemRules) > 0 {
			out = append(out, "dive")
			out = append(out, itemRules...)
		}
	}
	return out
}

// TestValidateTags checks the validator/v10 tags (x-oapi-codegen-extra-tags) of every
// request body field against its schema, so the generated request types validate exactly
// what openapi.yaml documents. Semantic rules (reserved, display_name, unique_names, ip)
// come on top and must be declared in x-wakelink-validate-rules.
func TestValidateTags(t *testing.T) {
	doc := loadSpec(t)
	rules := validateRules(t, doc)
	checked := 0
	var walk func(where string, s *openapi3.Schema)
	walk = func(where string, s *openapi3.Schema) {
		for name, p := range s.Properties {
			field := where + "." + name
			v := p.Value
			ext := map[string]any{}
			for k, e := range v.Extensions {
				ext[k] = e
			}
			for k, e := range p.Extensions {
				ext[k] = e
			}
			var tag string
			if tags, ok := ext["x-oapi-codegen-extra-tags"].(map[string]any); ok {
				tag, _ = tags["validate"].(string)
			}
			required := slices.Contains(s.Required, name)
			derived := deriveRules(t, field, v, rules)
			var want []string
			if required && (isType(v, "string") || isType(v, "array")) {
				want = append([]string{"required"}, derived...)
			} else if len(derived) > 0 {
				if required {
					want = derived // integers: 0 may be valid; presence is a schema check
				} else {
					want = append([]string{"omitempty"}, derived...)
				}
			}
			var got []string
			if tag != "" {
				for _, r := range strings.Split(tag, ",") {
					base, _, _ := strings.Cut(r, "=")
					rule, declared := rules[base]
					if !declared && !slices.Contains(builtinRules, base) {
						t.Errorf("%s: validate rule %q is neither a known validator tag nor declared in x-wakelink-validate-rules", field, base)
					}
					if declared && rule.semantic {
						continue
					}
					got = append(got, r)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: validate tag %q, want %q (+ semantic rules)", field, tag, strings.Join(want, ","))
			}
			checked++
			if isType(v, "object") {
				walk(field, v)
			}
			if v.Items != nil && isType(v.Items.Value, "object") {
				walk(field+"[]", v.Items.Value)
			}
		}
	}
	for id, s := range requestBodySchemas(t, doc) {
		walk(id, s.Value)
	}
	if checked == 0 {
		t.Fatal("no request body field checked")
	}
}

// TestSchemas checks the envelopes, the secrets and the objects' field lists.
func TestSchemas(t *testing.T) {
	doc := loadSpec(t)
	schemas := doc.Components.Schemas

	// One success envelope per operation, and no stray ones.
	envelopes := map[string]bool{}
	for name := range schemas {
		if strings.HasSuffix(name, "Envelope") && name != "ErrorEnvelope" {
			envelopes[name] = true
		}
	}
	for id := range expectedOperations {
		name := ucFirst(id) + "Envelope"
		if id == "streamEvents" {
			continue
		}
		if !envelopes[name] {
			t.Errorf("schema %s missing", name)
			continue
		}
		delete(envelopes, name)
		env := schemas[name].Value
		if !slices.Equal(env.Required, []string{"success", "data"}) ||
			env.Properties["success"] == nil || env.Properties["success"].Ref != "#/components/schemas/SuccessTrue" ||
			env.Properties["data"] == nil || env.Properties["data"].Ref == "" {
			t.Errorf("%s must be {success: SuccessTrue, data: <named schema>}, both required", name)
		}
	}
	for name := range envelopes {
		t.Errorf("schema %s belongs to no operation", name)
	}

	// Secrets are readOnly and always serialised (null rather than omitted) when required.
	var walk func(where string, s *openapi3.Schema)
	walk = func(where string, s *openapi3.Schema) {
		for name, p := range s.Properties {
			v := p.Value
			if strings.HasPrefix(v.Description, "Secret:") && !v.ReadOnly && !strings.HasSuffix(where, "Request") {
				t.Errorf("%s.%s: a secret in a response must be readOnly", where, name)
			}
			if v.ReadOnly && slices.Contains(s.Required, name) {
				if omit, ok := v.Extensions["x-omitempty"].(bool); !ok || omit {
					t.Errorf("%s.%s: required readOnly field needs x-omitempty: false (else the generated type omits it)", where, name)
				}
			}
		}
		for i, sub := range s.AllOf {
			if sub.Ref == "" {
				walk(fmt.Sprintf("%s.allOf[%d]", where, i), sub.Value)
			}
		}
	}
	for name, s := range schemas {
		walk(name, s.Value)
	}

	// The objects of API.md §3.0 with exactly their fields (all always present).
	objects := map[string][]string{
		"User": {"id", "username", "email", "role", "disabled", "totp_enabled", "agents_limit",
			"agents_count", "created_at", "last_login_at", "api_token", "api_token_hint"},
		"Agent": {"agent_id", "name", "platform", "channel", "firmware_version", "ewsp_versions",
			"targets", "online", "last_seen", "connected_since", "node", "remote_ip", "created_at",
			"updated_at", "token_hint", "token_rotated_at", "bound_at", "ota"},
		"Target":    {"name", "mac", "broadcast", "port"},
		"Session":   {"session_id", "label", "created_at", "expires_at", "last_used_at", "created_via", "current"},
		"ClaimCode": {"claim_id", "code_hint", "agent_id", "name", "platform", "channel", "created_at", "expires_at"},
	}
	for name, fields := range objects {
		s := schemas[name].Value
		var props []string
		for p := range s.Properties {
			props = append(props, p)
		}
		sort.Strings(props)
		want := slices.Clone(fields)
		sort.Strings(want)
		if !slices.Equal(props, want) {
			t.Errorf("%s fields = %v, want %v (API.md §3.0)", name, props, want)
		}
		req := slices.Clone(s.Required)
		sort.Strings(req)
		if !slices.Equal(req, want) {
			t.Errorf("%s: every field must be required (present, null when empty); required = %v", name, s.Required)
		}
	}
}

// TestExactPatterns pins the syntax rules API.md spells out.
func TestExactPatterns(t *testing.T) {
	doc := loadSpec(t)
	s := doc.Components.Schemas
	prop := func(schema, field string) *openapi3.Schema {
		t.Helper()
		sc := s[schema]
		if sc == nil || sc.Value.Properties[field] == nil {
			t.Fatalf("%s.%s missing", schema, field)
		}
		return sc.Value.Properties[field].Value
	}
	cases := []struct {
		name      string
		schema    *openapi3.Schema
		pattern   string
		minL      uint64
		maxL      uint64
		good, bad []string
	}{
		{"username", prop("SetupRequest", "username"), `^[a-z0-9][a-z0-9._-]{2,31}$`, 3, 32,
			[]string{"bob", "alice.b-c_d"}, []string{"Bob", "ab", "-bob", strings.Repeat("a", 33)}},
		{"agent_id", prop("CreateAgentRequest", "agent_id"), `^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`, 1, 32,
			[]string{"a", "WL0A1B2C3D", "pi-livingroom.1_x"}, []string{"", ".a", "a b", strings.Repeat("a", 33)}},
		{"target name", prop("TargetInput", "name"), `^[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}$`, 1, 32,
			[]string{"desktop", "Living room PC"}, []string{" pc", "pc!", ""}},
		{"platform", prop("CreateAgentRequest", "platform"), `^[a-z0-9][a-z0-9_-]{0,31}$`, 1, 32,
			[]string{"linux-arm64", "esp32", "linux_mipsle"}, []string{"Linux", "-x", "a.b"}},
		{"install_id", prop("BindAgentRequest", "install_id"), `^[A-Za-z0-9_-]{16,64}$`, 16, 64,
			[]string{"abcdefghijklmnop", strings.Repeat("Z", 64)}, []string{"short", "abcdefghijklmno.", strings.Repeat("a", 65)}},
		{"node_id", prop("RelayAuthzRequest", "node_id"), `^[A-Za-z0-9_-]{1,32}$`, 1, 32,
			[]string{"n", "node-1_A"}, []string{"", "node.1", strings.Repeat("n", 33)}},
		{"mac", prop("TargetInput", "mac"), `^[0-9A-Fa-f][02468ACEace]([:-][0-9A-Fa-f]{2}){5}$`, 0, 0,
			[]string{"AA:BB:CC:DD:EE:FF", "aa-bb-cc-dd-ee-ff", "00:11:22:33:44:55", "aa:bb-cc:dd-ee:ff"},
			[]string{"AABBCCDDEEFF", "aabb.ccdd.eeff", "FF:FF:FF:FF:FF:FF", "01:00:5E:00:00:01", "AA:BB:CC:DD:EE"}},
	}
	for _, c := range cases {
		if c.schema.Pattern != c.pattern {
			t.Errorf("%s: pattern %q, want %q", c.name, c.schema.Pattern, c.pattern)
		}
		if c.minL != 0 && c.schema.MinLength != c.minL {
			t.Errorf("%s: minLength %d, want %d", c.name, c.schema.MinLength, c.minL)
		}
		if c.maxL != 0 && (c.schema.MaxLength == nil || *c.schema.MaxLength != c.maxL) {
			t.Errorf("%s: maxLength %v, want %d", c.name, c.schema.MaxLength, c.maxL)
		}
		for _, v := range c.good {
			if err := c.schema.VisitJSON(v); err != nil {
				t.Errorf("%s: %q refused: %v", c.name, v, err)
			}
		}
		for _, v := range c.bad {
			if err := c.schema.VisitJSON(v); err == nil {
				t.Errorf("%s: %q accepted", c.name, v)
			}
		}
	}

	// The bind code is bounded by length only (API.md §3.3).
	code := prop("BindAgentRequest", "code")
	if code.Pattern != "" || code.MinLength != 12 || code.MaxLength == nil || *code.MaxLength != 64 {
		t.Errorf("bind code: want minLength 12, maxLength 64 and no pattern")
	}
	for _, v := range []string{"7K3M-9PQR-X2TV", "not-base32-at-all!"} {
		if err := code.VisitJSON(v); err != nil {
			t.Errorf("bind code %q refused by the schema (must reach CLAIM_CODE_INVALID): %v", v, err)
		}
	}

	idem := doc.Components.Parameters["IdempotencyKey"].Value.Schema.Value
	if idem.Pattern != `^[A-Za-z0-9_-]{1,64}$` {
		t.Errorf("Idempotency-Key pattern %q", idem.Pattern)
	}
	limit := doc.Components.Parameters["Limit"].Value.Schema.Value
	if *limit.Min != 1 || *limit.Max != 200 || limit.Default != float64(50) {
		t.Errorf("limit must be 1–200, default 50")
	}
}

// stubServer satisfies StrictServerInterface without implementing anything: enough to
// build the generated router.
type stubServer struct{ StrictServerInterface }

// TestGeneratedRoutes builds the generated net/http router and checks that every operation
// of the spec is routed to its own pattern (and HEAD to GET's), so Go's ServeMux accepts
// the set of paths (no conflicting patterns) and static segments win over wildcards.
func TestGeneratedRoutes(t *testing.T) {
	doc := loadSpec(t)
	mux := http.NewServeMux()
	HandlerFromMux(NewStrictHandler(stubServer{}, nil), mux) // panics on conflicting patterns
	sample := strings.NewReplacer(
		"{agent_id}", "pi-livingroom",
		"{session_id}", "ses_01jqa8w0c4d5e6f7g8h9j0k1m2",
		"{claim_id}", "clm_01jqa8x7n3p4q5r6s7t8v9w0x1",
		"{user_id}", "usr_01jqa8v3m9k2w4x5y6z7a8b9cd",
	)
	for _, o := range operations(t, doc) {
		url := sample.Replace(o.path)
		if strings.Contains(url, "{") {
			t.Errorf("%s: no sample value for a path parameter of %s", o.id, o.path)
			continue
		}
		methods := []string{o.method}
		if o.method == http.MethodGet {
			methods = append(methods, http.MethodHead)
		}
		for _, m := range methods {
			_, pattern := mux.Handler(httptest.NewRequest(m, url, nil))
			if want := o.method + " " + o.path; pattern != want {
				t.Errorf("%s %s routes to %q, want %q", m, url, pattern, want)
			}
		}
	}
	// An agent id equal to a static segment is served by the static route (API.md §3.2).
	if _, p := mux.Handler(httptest.NewRequest(http.MethodGet, "/api/v1/agents/presence", nil)); p != "GET /api/v1/agents/presence" {
		t.Errorf("GET /api/v1/agents/presence routes to %q", p)
	}
}
