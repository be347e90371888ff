#!/usr/bin/env bash
# fetch.sh — re-fetch the pinned npm packages of internal/thirdparty.
#
# For each pin below it runs `npm pack` into a temporary directory, checks the
# tarball against the pinned npm integrity (sha512), checks the name and
# version in its package.json, and extracts only the listed files, the licence
# files and package.json into the pin's subfolder (replacing it). Then it
# rewrites SHA256SUMS over every file of the subfolders.
#
# Updating a package: change its pin (version, integrity from
# `npm view <name>@<version> dist.integrity`, files), run this script, review
# the diff, commit. The Go test of this package parses the pins from this file
# and checks the committed files against them and against SHA256SUMS, offline.
#
# Needs: bash, npm (and the node it comes with), tar, sha256sum.
set -euo pipefail

# The pins: one block per npm package, "key = value" lines; files and licences
# are space-separated paths inside the package. dir is the subfolder, named
# after the package in a filesystem-safe way. The Go test reads this block too.
PINS=$(cat <<'PINS'
[swagger-ui-dist]
version   = 5.35.0
integrity = sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
dir       = swagger-ui-dist
files     = swagger-ui-bundle.js swagger-ui.css favicon-32x32.png
licences  = LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt

[redoc]
version   = 3.0.1
integrity = sha512-KDfoKaYW19LCl4YStgBnwlaNjYEFfs5zCNt1s1WZ2YM5u8d26Yuzd2l43fZO851ZsgIMe/D640fDJkD8eaRQKQ==
dir       = redoc
files     = bundles/redoc.standalone.js
licences  = LICENSE

[@zxcvbn-ts/language-common]
version   = 4.1.3
integrity = sha512-g2bg4skmlJG9aJqC/nWziZzgYpSe/f3rKeGobrkdFiOrfZVFqqzUgC6BUQWuX54Sua9j0Jxxt+1bf4f/Mal1Kg==
dir       = zxcvbn-ts-language-common
files     = src/passwords.json
licences  = LICENSE.txt
PINS
)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

for tool in npm node tar sha256sum; do
	command -v "$tool" >/dev/null || { echo "fetch.sh: $tool not found" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'echo "fetch.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

die() { echo "fetch.sh: $*" >&2; exit 1; }

# sri FILE prints the npm-style integrity string of FILE: sha512-<base64>.
sri() {
	node -e '
		const c = require("crypto"), f = require("fs");
		process.stdout.write("sha512-" + c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"));
	' "$1"
}

# pkgfield JSON KEY prints a top-level string field of a package.json.
pkgfield() {
	node -e '
		const v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]];
		if (typeof v !== "string") process.exit(1);
		process.stdout.write(v);
	' "$1" "$2"
}

# fetch NAME VERSION INTEGRITY DIR "FILES" "LICENCES" stages one package in
# $tmp/out/DIR.
fetch() {
	local name=$1 version=$2 integrity=$3 dir=$4 files=$5 licences=$6
	[[ -n $name && -n $version && -n $integrity && -n $dir && -n $files && -n $licences ]] ||
		die "incomplete pin for ${name:-?}"
	[[ $dir =~ ^[a-z0-9][a-z0-9._-]*$ ]] || die "$name: dir $dir is not a plain folder name"

	local work=$tmp/pack/$dir
	mkdir -p "$work"
	echo "fetch.sh: $name@$version"
	npm pack --silent --loglevel=error --pack-destination "$work" "$name@$version" >/dev/null
	local tgz
	tgz=$(find "$work" -maxdepth 1 -name '*.tgz' -print)
	[[ -n $tgz && $(printf '%s\n' "$tgz" | wc -l) -eq 1 ]] || die "$name: npm pack left no single tarball"

	local got
	got=$(sri "$tgz")
	[[ $got == "$integrity" ]] || die "$name@$version: integrity mismatch
  pinned: $integrity
  got:    $got"

	# npm tarballs hold one top-level folder, almost always package/.
	local root
	root=$(tar -tzf "$tgz" | sed -n '1s:/.*::p') # sed reads all: no SIGPIPE
	[[ -n $root ]] || die "$name: empty tarball"
	local x=$tmp/x/$dir
	mkdir -p "$x"
	local -a want
	read -r -a want <<<"$files $licences"
	want+=(package.json)
	local -a members=()
	local f
	for f in "${want[@]}"; do
		[[ $f != /* && $f != *..* ]] || die "$name: bad path $f"
		members+=("$root/$f")
	done
	tar -xzf "$tgz" -C "$x" --no-same-owner --no-same-permissions "${members[@]}" ||
		die "$name@$version: a listed file is missing from the tarball"

	[[ $(pkgfield "$x/$root/package.json" name) == "$name" ]] || die "$name: package.json name differs"
	[[ $(pkgfield "$x/$root/package.json" version) == "$version" ]] || die "$name: package.json version differs"

	local out=$tmp/out/$dir
	for f in "${want[@]}"; do
		[[ -f $x/$root/$f && ! -L $x/$root/$f ]] || die "$name: $f is not a regular file"
		mkdir -p "$out/$(dirname "$f")"
		cp "$x/$root/$f" "$out/$f"
		chmod 0644 "$out/$f"
	done
	dirs+=("$dir")
}

# Parse the pins and fetch each.
dirs=()
name="" version="" integrity="" dir="" files="" licences=""
flush() {
	[[ -z $name ]] || fetch "$name" "$version" "$integrity" "$dir" "$files" "$licences"
	name="" version="" integrity="" dir="" files="" licences=""
}
while IFS= read -r line; do
	line=${line%%#*}
	[[ $line =~ ^[[:space:]]*$ ]] && continue
	if [[ $line =~ ^\[(.+)\]$ ]]; then
		next=${BASH_REMATCH[1]} # flush runs regexes of its own
		flush
		name=$next
	elif [[ $line =~ ^([a-z]+)[[:space:]]*=[[:space:]]*(.*[^[:space:]])[[:space:]]*$ ]]; then
		[[ -n $name ]] || die "pin line outside a block: $line"
		case ${BASH_REMATCH[1]} in
		version) version=${BASH_REMATCH[2]} ;;
		integrity) integrity=${BASH_REMATCH[2]} ;;
		dir) dir=${BASH_REMATCH[2]} ;;
		files) files=${BASH_REMATCH[2]} ;;
		licences) licences=${BASH_REMATCH[2]} ;;
		*) die "unknown pin key ${BASH_REMATCH[1]}" ;;
		esac
	else
		die "cannot parse pin line: $line"
	fi
done <<<"$PINS"
flush

# Everything fetched and checked: replace the subfolders, then the sums.
for d in "${dirs[@]}"; do
	rm -rf "${here:?}/$d"
	mv "$tmp/out/$d" "$here/$d"
done
find "${dirs[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum >SHA256SUMS.new
mv SHA256SUMS.new SHA256SUMS
echo "fetch.sh: wrote $(wc -l <SHA256SUMS) sums to internal/thirdparty/SHA256SUMS"
