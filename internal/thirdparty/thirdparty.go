package thirdparty

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
)

// files holds every pinned subfolder. The all: prefix embeds files whose
// names begin with . or _ too, so that nothing fetched is silently left out;
// the tests compare this tree with SHA256SUMS.
//
//go:embed all:swagger-ui-dist all:redoc all:zxcvbn-ts-language-common
var files embed.FS

// Paths of the viewers' files, relative to the roots of SwaggerUI and Redoc.
const (
	SwaggerUIBundle  = "swagger-ui-bundle.js" // defines SwaggerUIBundle; load with a classic <script>
	SwaggerUICSS     = "swagger-ui.css"
	SwaggerUIFavicon = "favicon-32x32.png"
	RedocStandalone  = "bundles/redoc.standalone.js" // an ES module: load with <script type="module">
)

// Subfolders of this package, one per npm package.
const (
	swaggerUIDir  = "swagger-ui-dist"
	redocDir      = "redoc"
	passwordsDir  = "zxcvbn-ts-language-common"
	passwordsFile = passwordsDir + "/src/passwords.json"
)

// SwaggerUI returns the files of swagger-ui-dist 5.35.0: SwaggerUIBundle,
// SwaggerUICSS and SwaggerUIFavicon, plus LICENSE, NOTICE,
// swagger-ui-bundle.js.LICENSE.txt and package.json, all at the root. The
// standalone preset is not included: a page builds the viewer with
// SwaggerUIBundle and SwaggerUIBundle.presets.apis, and should set
// validatorUrl to null so that the browser never calls the online validator.
func SwaggerUI() fs.FS { return sub(swaggerUIDir) }

// Redoc returns the files of redoc 3.0.1: RedocStandalone plus LICENSE and
// package.json at the root. The bundle is an ES module exporting init and
// RedocStandalone. It sends anonymous usage telemetry to Redocly unless the
// page disables it (the disable-telemetry attribute or the disableTelemetry
// option), and it refers to icons and a logo on Redocly's CDN; a page that
// must stay offline disables telemetry and should send a
// Content-Security-Policy that allows only its own origin, plus data: for
// images and fonts, which the bundle inlines. Without the network the viewer
// works; only the "API docs by" logo and any CDN icon stay blank.
func Redoc() fs.FS { return sub(redocDir) }

// sub returns the embedded subfolder dir. It panics only if dir is not a
// valid path, which the constants above are.
func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic("thirdparty: " + err.Error())
	}
	return f
}

// CommonPasswords returns the 49 233 common passwords of
// @zxcvbn-ts/language-common 4.1.3 (src/passwords.json), lower-cased, in the
// file's order (most common first), without duplicates. Compare a candidate
// password with them after lower-casing it. The list is parsed once; each
// call returns a new slice that the caller may modify. An error means the
// embedded file is corrupt, which the package's tests rule out.
func CommonPasswords() ([]string, error) {
	list, err := commonPasswords()
	if err != nil {
		return nil, err
	}
	return slices.Clone(list), nil
}

// commonPasswords parses the embedded list once. It caches immutable data
// only and never hands out the cached slice itself.
var commonPasswords = sync.OnceValues(func() ([]string, error) {
	data, err := files.ReadFile(passwordsFile)
	if err != nil {
		return nil, fmt.Errorf("thirdparty: reading common passwords: %w", err)
	}
	var list []string
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("thirdparty: parsing common passwords: %w", err)
	}
	for i, p := range list {
		list[i] = strings.ToLower(p)
	}
	return list, nil
})
