package thirdparty

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// pin is one package block of fetch.sh.
type pin struct {
	name, version, integrity, dir string
	files, licences               []string
}

// wanted returns every file the pin's subfolder must hold, relative to it.
func (p pin) wanted() []string {
	w := slices.Concat(p.files, p.licences, []string{"package.json"})
	slices.Sort(w)
	return w
}

var (
	pinHeader = regexp.MustCompile(`^\[(.+)\]$`)
	pinLine   = regexp.MustCompile(`^([a-z]+)\s*=\s*(.*\S)\s*$`)
	sri512    = regexp.MustCompile(`^sha512-[A-Za-z0-9+/]{86}==$`)
	dirName   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
)

// parsePins reads the pins from fetch.sh, the one place they are written.
func parsePins(t *testing.T) []pin {
	t.Helper()
	src, err := os.ReadFile("fetch.sh")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(src), "<<'PINS'\n")
	if ok {
		block, _, ok = strings.Cut(block, "\nPINS\n")
	}
	if !ok {
		t.Fatal("fetch.sh: no <<'PINS' ... PINS block")
	}
	var pins []pin
	for n, line := range strings.Split(block, "\n") {
		line, _, _ = strings.Cut(line, "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if m := pinHeader.FindStringSubmatch(line); m != nil {
			pins = append(pins, pin{name: m[1]})
			continue
		}
		m := pinLine.FindStringSubmatch(line)
		if m == nil || len(pins) == 0 {
			t.Fatalf("fetch.sh pins, line %d: cannot parse %q", n+1, line)
		}
		p := &pins[len(pins)-1]
		switch m[1] {
		case "version":
			p.version = m[2]
		case "integrity":
			p.integrity = m[2]
		case "dir":
			p.dir = m[2]
		case "files":
			p.files = strings.Fields(m[2])
		case "licences":
			p.licences = strings.Fields(m[2])
		default:
			t.Fatalf("fetch.sh pins, line %d: unknown key %q", n+1, m[1])
		}
	}
	if len(pins) == 0 {
		t.Fatal("fetch.sh: no pins")
	}
	for _, p := range pins {
		if p.version == "" || p.dir == "" || len(p.files) == 0 || len(p.licences) == 0 {
			t.Errorf("fetch.sh: pin %s is incomplete: %+v", p.name, p)
		}
		if !sri512.MatchString(p.integrity) {
			t.Errorf("fetch.sh: pin %s: integrity %q is not an npm sha512 integrity", p.name, p.integrity)
		}
		if !dirName.MatchString(p.dir) {
			t.Errorf("fetch.sh: pin %s: dir %q is not a plain folder name", p.name, p.dir)
		}
	}
	return pins
}

// readSums parses SHA256SUMS into path → hex digest, checking its format.
func readSums(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		sum, path, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 || strings.ToLower(sum) != sum || !fs.ValidPath(path) {
			t.Fatalf("SHA256SUMS line %d: got %q, want \"<sha256 hex>  <path>\"", n, sc.Text())
		}
		if _, err := hex.DecodeString(sum); err != nil {
			t.Fatalf("SHA256SUMS line %d: %v", n, err)
		}
		if _, dup := sums[path]; dup {
			t.Errorf("SHA256SUMS lists %s twice", path)
		}
		sums[path] = sum
		order = append(order, path)
	}
	if !slices.IsSorted(order) {
		t.Error("SHA256SUMS is not sorted by path (fetch.sh writes it sorted)")
	}
	return sums
}

// hashTree returns path → sha256 hex of every regular file under the given
// subfolders of fsys, and fails on anything else (symlinks, devices).
func hashTree(t *testing.T, fsys fs.FS, dirs []string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for _, d := range dirs {
		err := fs.WalkDir(fsys, d, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() {
				return nil
			}
			if !e.Type().IsRegular() {
				t.Errorf("%s: not a regular file", path)
				return nil
			}
			data, err := fs.ReadFile(fsys, path)
			if err != nil {
				return err
			}
			s := sha256.Sum256(data)
			got[path] = hex.EncodeToString(s[:])
			return nil
		})
		if err != nil {
			t.Errorf("walking %s: %v", d, err)
		}
	}
	return got
}

func dirs(pins []pin) []string {
	var d []string
	for _, p := range pins {
		d = append(d, p.dir)
	}
	return d
}

// compareSums fails for every file whose hash differs from SHA256SUMS, every
// file SHA256SUMS does not list, and every listed file that is missing.
func compareSums(t *testing.T, what string, got, sums map[string]string) {
	t.Helper()
	for _, path := range slices.Sorted(maps.Keys(got)) {
		want, listed := sums[path]
		switch {
		case !listed:
			t.Errorf("%s: %s is not listed in SHA256SUMS (run fetch.sh, or remove the file)", what, path)
		case got[path] != want:
			t.Errorf("%s: %s: got sha256 %s, want %s (SHA256SUMS)", what, path, got[path], want)
		}
	}
	for _, path := range slices.Sorted(maps.Keys(sums)) {
		if _, ok := got[path]; !ok {
			t.Errorf("%s: %s is listed in SHA256SUMS but missing", what, path)
		}
	}
}

// TestFilesMatchSHA256SUMS checks the committed tree on disk and the
// embedded tree against SHA256SUMS, in both directions.
func TestFilesMatchSHA256SUMS(t *testing.T) {
	pins := parsePins(t)
	sums := readSums(t)
	t.Run("disk", func(t *testing.T) {
		compareSums(t, "disk", hashTree(t, os.DirFS("."), dirs(pins)), sums)
	})
	t.Run("embedded", func(t *testing.T) {
		compareSums(t, "embedded", hashTree(t, files, dirs(pins)), sums)
	})
	t.Run("sums cover only pinned folders", func(t *testing.T) {
		for path := range sums {
			top, _, _ := strings.Cut(path, "/")
			if !slices.Contains(dirs(pins), top) {
				t.Errorf("SHA256SUMS lists %s, outside every pinned subfolder", path)
			}
		}
	})
}

// TestNoStrayFolders fails on a subfolder that no pin owns (left behind when
// a pin is removed or renamed): it would be neither embedded nor checked.
func TestNoStrayFolders(t *testing.T) {
	pins := parsePins(t)
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && !slices.Contains(dirs(pins), e.Name()) {
			t.Errorf("folder %s/ belongs to no pin in fetch.sh", e.Name())
		}
	}
	embedded, err := fs.ReadDir(files, ".")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range embedded {
		got = append(got, e.Name())
	}
	want := slices.Sorted(slices.Values(dirs(pins)))
	if !slices.Equal(got, want) {
		t.Errorf("embedded folders: got %v, want %v (the pins' dirs; update the go:embed line)", got, want)
	}
}

// TestPinnedPackages checks each subfolder against its pin: package.json
// name and version, and exactly the listed files, licences and package.json.
func TestPinnedPackages(t *testing.T) {
	for _, p := range parsePins(t) {
		t.Run(p.name, func(t *testing.T) {
			data, err := fs.ReadFile(files, p.dir+"/package.json")
			if err != nil {
				t.Fatal(err)
			}
			var pj struct{ Name, Version, License string }
			if err := json.Unmarshal(data, &pj); err != nil {
				t.Fatalf("%s/package.json: %v", p.dir, err)
			}
			if pj.Name != p.name {
				t.Errorf("%s/package.json name: got %q, want %q (pin in fetch.sh)", p.dir, pj.Name, p.name)
			}
			if pj.Version != p.version {
				t.Errorf("%s/package.json version: got %q, want %q (pin in fetch.sh)", p.dir, pj.Version, p.version)
			}
			if pj.License == "" {
				t.Errorf("%s/package.json: no license field", p.dir)
			}

			for _, l := range p.licences {
				info, err := fs.Stat(files, p.dir+"/"+l)
				if err != nil {
					t.Errorf("licence file: %v", err)
				} else if info.Size() == 0 {
					t.Errorf("licence file %s/%s is empty", p.dir, l)
				}
			}

			var got []string
			sub, err := fs.Sub(files, p.dir)
			if err != nil {
				t.Fatal(err)
			}
			err = fs.WalkDir(sub, ".", func(path string, e fs.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					got = append(got, path)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if want := p.wanted(); !slices.Equal(got, want) {
				t.Errorf("%s/: got files %v, want %v (files + licences + package.json)", p.dir, got, want)
			}
		})
	}
}

// TestViewerConstantsArePinned keeps the exported paths and the pins in step.
func TestViewerConstantsArePinned(t *testing.T) {
	byDir := map[string]pin{}
	for _, p := range parsePins(t) {
		byDir[p.dir] = p
	}
	for _, c := range []struct{ dir, file string }{
		{swaggerUIDir, SwaggerUIBundle},
		{swaggerUIDir, SwaggerUICSS},
		{swaggerUIDir, SwaggerUIFavicon},
		{redocDir, RedocStandalone},
		{passwordsDir, strings.TrimPrefix(passwordsFile, passwordsDir+"/")},
	} {
		p, ok := byDir[c.dir]
		if !ok {
			t.Errorf("no pin has dir %s", c.dir)
			continue
		}
		if !slices.Contains(p.files, c.file) {
			t.Errorf("%s: %s is not in the pin's files %v", p.name, c.file, p.files)
		}
	}
}

// TestViewers checks that the viewers' files are reachable, non-empty and
// look like what they should be, through the exported file systems.
func TestViewers(t *testing.T) {
	for _, c := range []struct {
		name   string
		fsys   fs.FS
		path   string
		prefix string // expected start of the file, "" for no check
		holds  string // a string the file must contain, "" for no check
	}{
		{"SwaggerUI", SwaggerUI(), SwaggerUIBundle, "", "SwaggerUIBundle"},
		{"SwaggerUI", SwaggerUI(), SwaggerUICSS, "", ".swagger-ui"},
		{"SwaggerUI", SwaggerUI(), SwaggerUIFavicon, "\x89PNG\r\n\x1a\n", ""},
		{"SwaggerUI", SwaggerUI(), "LICENSE", "", "Apache License"},
		{"SwaggerUI", SwaggerUI(), "NOTICE", "", ""},
		{"SwaggerUI", SwaggerUI(), "swagger-ui-bundle.js.LICENSE.txt", "", ""},
		{"Redoc", Redoc(), RedocStandalone, "", "export{RedocStandalone,hydrate,init}"},
		{"Redoc", Redoc(), "LICENSE", "", "MIT"},
	} {
		t.Run(c.name+"/"+c.path, func(t *testing.T) {
			data, err := fs.ReadFile(c.fsys, c.path)
			if err != nil {
				t.Fatalf("%s(): %v", c.name, err)
			}
			if len(data) == 0 {
				t.Fatalf("%s(): %s is empty", c.name, c.path)
			}
			if !bytes.HasPrefix(data, []byte(c.prefix)) {
				t.Errorf("%s(): %s: got prefix %q, want %q", c.name, c.path, data[:min(len(data), len(c.prefix))], c.prefix)
			}
			if !bytes.Contains(data, []byte(c.holds)) {
				t.Errorf("%s(): %s does not contain %q", c.name, c.path, c.holds)
			}
		})
	}
	// The roots hold nothing of the other packages.
	if _, err := fs.Stat(SwaggerUI(), RedocStandalone); err == nil {
		t.Errorf("SwaggerUI() holds %s", RedocStandalone)
	}
	if _, err := fs.Stat(Redoc(), SwaggerUIBundle); err == nil {
		t.Errorf("Redoc() holds %s", SwaggerUIBundle)
	}
}

// wantPasswords is the number of entries of src/passwords.json in
// @zxcvbn-ts/language-common 4.1.3, measured when it was pinned.
const wantPasswords = 49233

func TestCommonPasswords(t *testing.T) {
	list, err := CommonPasswords()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != wantPasswords {
		t.Errorf("CommonPasswords(): got %d entries, want %d", len(list), wantPasswords)
	}
	seen := make(map[string]bool, len(list))
	for i, p := range list {
		if p == "" {
			t.Errorf("entry %d is empty", i)
		}
		if p != strings.ToLower(p) {
			t.Errorf("entry %d %q is not lower-cased", i, p)
		}
		if seen[p] {
			t.Errorf("entry %d %q is a duplicate", i, p)
		}
		seen[p] = true
	}
	for _, p := range []string{"123456", "password", "qwerty", "letmein", "dragon"} {
		if !seen[p] {
			t.Errorf("CommonPasswords() lacks %q", p)
		}
	}
	if len(list) > 0 && list[0] != "123456" {
		t.Errorf("first entry: got %q, want %q (most common first)", list[0], "123456")
	}

	// Each call returns its own slice: a caller's change is not seen by the next.
	list[0] = "changed"
	again, err := CommonPasswords()
	if err != nil {
		t.Fatal(err)
	}
	if again[0] == "changed" {
		t.Error("CommonPasswords() returned the cached slice itself")
	}
}
