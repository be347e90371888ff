// Package thirdparty holds the pinned non-Go third-party files that the
// module embeds: the Swagger UI and ReDoc bundles that restapi serves at
// /api/docs and /api/redoc, and the common-password list that auth checks
// new passwords against. Nothing here is Go code from elsewhere: Go
// dependencies come through go.mod and are never vendored.
//
// Each npm package has one subfolder holding only the files used, the
// package's licence files and its package.json:
//
//	swagger-ui-dist/            swagger-ui-dist 5.35.0 (Apache-2.0)
//	redoc/                      redoc 3.0.1 (MIT)
//	zxcvbn-ts-language-common/  @zxcvbn-ts/language-common 4.1.3 (MIT)
//
// fetch.sh pins each package's name, version, npm integrity (sha512) and
// file list; it re-fetches the tarballs with npm pack, checks them against
// the pins, extracts the listed files and rewrites SHA256SUMS. The tests of
// this package, which run offline, fail when a committed file differs from
// SHA256SUMS, when a file is not listed there (or a listed one is missing),
// or when a package.json name or version differs from its pin in fetch.sh.
//
// To update a package: change its pin in fetch.sh, run fetch.sh, review
// the diff and commit the result. README.md in this folder says more.
//
// Everything here is immutable embedded data: the file systems are
// read-only and every function is safe for concurrent use. The package
// starts no goroutines and holds no mutable state.
package thirdparty
