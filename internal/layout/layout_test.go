package layout

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/wakelink-go/wakelink"

// allowed lists, for each package of the module (path relative to the module
// root), the packages of the module its non-test files may import. It is
// DESIGN.md's dependency picture: arrows only ever point down.
var allowed = map[string][]string{
	"ewsp":                        {},
	"auth":                        {},
	"auth/authtest":               {"auth"},
	"ota":                         {},
	"ota/otatest":                 {"ota"},
	"relay":                       {},
	"relay/natsbroker":            {"relay"},
	"relay/relaytest":             {"relay"},
	"restapi/console":             {"auth", "ota", "relay"},
	"restapi/console/consoletest": {"restapi/console", "auth", "ota", "relay"},
	"restapi":                     {"restapi/console", "auth", "ota", "relay", "internal/thirdparty"},
	"refserver/sqlstore":          {"auth", "ota", "restapi/console"},
	"refserver/events":            {"restapi/console"},
	"refserver/backup":            {"refserver/sqlstore", "restapi/console", "auth", "ota"},
	"refserver/mcpserver":         {"restapi/console", "auth", "ota"},
	"refserver": {"auth", "ota", "relay", "relay/natsbroker", "restapi", "restapi/console",
		"refserver/sqlstore", "refserver/events", "refserver/backup", "refserver/mcpserver",
		"internal/thirdparty"},
	"clientkit":              {"ewsp", "internal/backoff", "clientkit/internal/api"},
	"clientkit/internal/api": {},
	"agentkit":               {"ewsp", "ota", "internal/backoff"},
	"firmware":               {"agentkit", "ewsp", "ota"},
	"cmd/refserver":          {"refserver"},
	"cmd/wakelink":           {"clientkit", "ota", "ewsp"},
	"cmd/wakelink-bench":     {"relay", "relay/natsbroker", "ewsp"},
	"internal/backoff":       {},
	"internal/thirdparty":    {},
	"internal/layout":        {},
}

// lean packages must stay small enough for firmware binaries: nothing in
// their dependency closure may come from these module paths.
var lean = []string{"ewsp", "agentkit"}

var heavy = []string{
	"database/sql",
	"modernc.org/sqlite",
	"github.com/jackc/pgx",
	"github.com/nats-io/",
	"github.com/getkin/kin-openapi",
	"github.com/oapi-codegen/",
	"github.com/prometheus/",
	"github.com/modelcontextprotocol/",
}

type pkg struct {
	ImportPath string
	Name       string
	Doc        string
	Imports    []string
	Deps       []string
	Error      *struct{ Err string }
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Name,Doc,Imports,Deps,Error", "./...")
	cmd.Dir = filepath.Join("..", "..")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

func rel(importPath string) (string, bool) {
	if importPath == module {
		return ".", true
	}
	r, ok := strings.CutPrefix(importPath, module+"/")
	return r, ok
}

func TestEveryPackageHasDocComment(t *testing.T) {
	for _, p := range listPackages(t) {
		r, _ := rel(p.ImportPath)
		if p.Doc == "" {
			t.Errorf("%s: no package doc comment (add doc.go)", r)
			continue
		}
		if p.Name != "main" && !strings.HasPrefix(p.Doc, "Package "+p.Name+" ") {
			t.Errorf("%s: doc comment must begin %q, got %q", r, "Package "+p.Name+" ", p.Doc)
		}
	}
}

func TestDependencyDirection(t *testing.T) {
	for _, p := range listPackages(t) {
		r, _ := rel(p.ImportPath)
		if p.Error != nil {
			t.Errorf("%s: %s", r, p.Error.Err)
			continue
		}
		ok, known := allowed[r]
		if !known {
			t.Errorf("%s: not in the allowed-edges table of internal/layout (add it, following DESIGN.md)", r)
			continue
		}
		for _, imp := range p.Imports {
			ir, ours := rel(imp)
			if !ours {
				continue
			}
			if !slices.Contains(ok, ir) {
				t.Errorf("%s imports %s: edge not allowed by DESIGN.md (allowed: %v)", r, ir, ok)
			}
		}
	}
}

func TestProductionCodeDoesNotImportTesting(t *testing.T) {
	for _, p := range listPackages(t) {
		r, _ := rel(p.ImportPath)
		if strings.HasSuffix(r, "test") {
			continue // authtest, relaytest, ...: test helpers for users
		}
		if slices.Contains(p.Imports, "testing") {
			t.Errorf("%s: production code imports testing (helpers belong in an xxxtest package)", r)
		}
	}
}

// TestEWSPIsPure checks ewsp's direct imports: no network, no filesystem, no
// package of this module. Direct imports only: crypto/rand alone pulls os
// into the dependency closure.
func TestEWSPIsPure(t *testing.T) {
	for _, p := range listPackages(t) {
		if r, _ := rel(p.ImportPath); r != "ewsp" {
			continue
		}
		for _, imp := range p.Imports {
			_, ours := rel(imp)
			if imp == "net" || strings.HasPrefix(imp, "net/") || imp == "os" || strings.HasPrefix(imp, "os/") || ours {
				t.Errorf("ewsp imports %s: ewsp does no I/O and imports nothing of this module", imp)
			}
		}
		return
	}
	t.Fatal("package ewsp not found by go list")
}

func TestLeanPackagesStayLean(t *testing.T) {
	for _, p := range listPackages(t) {
		r, _ := rel(p.ImportPath)
		if !slices.Contains(lean, r) {
			continue
		}
		for _, d := range p.Deps {
			for _, h := range heavy {
				if d == h || strings.HasPrefix(d, h) {
					t.Errorf("%s depends on %s (firmware binaries must stay small)", r, d)
				}
			}
		}
	}
}
