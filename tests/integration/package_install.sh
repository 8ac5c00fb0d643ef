#!/bin/bash
# The Debian package (scripts/package): builds it (lintian must report no
# error), installs it with dpkg -i, runs the installed mmhint from / and
# checks that a statistics file appears, finds its man pages and pkg-config
# file, then purges it and checks that dpkg knows nothing of it and no file
# of it is left.  Needs root and dpkg (CI runs as root); otherwise skipped.
# A package mmhint installed before the test is left alone: the test is
# skipped, naming it.
source "$(dirname "$0")/lib.sh"
mh_init package_install
[ "$(id -u)" = 0 ] || mh_skip "needs root to install a package with dpkg -i"
command -v dpkg >/dev/null || mh_skip "dpkg is not installed (not a Debian system)"
if status=$(dpkg-query -W -f='${Status} ${Version}' mmhint 2>/dev/null) && [[ $status == *" installed "* ]]; then
  mh_skip "the package mmhint is already installed ($status); the test would replace and remove it: dpkg -r mmhint first"
fi

version=$(sed -n 's/^project(mmhint VERSION \([0-9][0-9.]*\).*/\1/p' "$MH_SRC/CMakeLists.txt")
# The package's own build tree beside the test build (built once, then incremental).
export MMHINT_PACKAGE_BUILD=$MMHINT_BUILD_DIR/package
if ! "$MH_SRC/scripts/package" --out "$MH_TMP/deb" >"$MH_TMP/package.out" 2>&1; then
  mh_fail "scripts/package failed: $(tail -15 "$MH_TMP/package.out")"
  mh_done
fi
deb=$(tail -1 "$MH_TMP/package.out")
mh_note "$(grep '^package: lintian' "$MH_TMP/package.out")"
mh_expect_eq "package file" "$(basename "$deb")" "mmhint_${version}_$(dpkg --print-architecture).deb"
mh_expect_eq "package version" "$(dpkg-deb -f "$deb" Version)" "$version"
[[ $(dpkg-deb -f "$deb" Depends) == *libc6* ]] || mh_fail "Depends lacks libc6: $(dpkg-deb -f "$deb" Depends)"

# Remove the package at exit whatever happens, so a failing run leaves nothing behind.
trap 'dpkg --purge mmhint >/dev/null 2>&1; rm -rf "$MH_TMP"' EXIT
if ! dpkg -i "$deb" >"$MH_TMP/install.out" 2>&1; then
  mh_fail "dpkg -i failed: $(tail -5 "$MH_TMP/install.out")"
  mh_done
fi
dpkg-query -W -f='${Status}' mmhint | grep -q "install ok installed" || mh_fail "dpkg -s mmhint: not installed"
dpkg -L mmhint > "$MH_TMP/files"

# The installed command, from /, with a clean environment (no checkout, no MMHINT_ variable).
printf 'line %s\n' $(seq 1 1000) > "$MH_TMP/input.txt"
clean=(env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8)
(cd / && "${clean[@]}" mmhint run --stats "$MH_TMP/st" -- cat "$MH_TMP/input.txt" >"$MH_TMP/cat.out" 2>"$MH_TMP/cat.err")
cmp -s "$MH_TMP/cat.out" "$MH_TMP/input.txt" || mh_fail "cat under the installed mmhint printed other bytes: $(head -3 "$MH_TMP/cat.err")"
ls "$MH_TMP"/st/cat.*.json >/dev/null 2>&1 || mh_fail "no statistics file in $MH_TMP/st: $(ls "$MH_TMP/st" 2>&1) $(head -3 "$MH_TMP/cat.err")"
out=$(cd / && "${clean[@]}" mmhint --version 2>&1) || mh_fail "mmhint --version: $out"
[[ $out == *"libmmhint $version"* ]] || mh_fail "mmhint --version does not report the library: $out"
man -w mmhint >/dev/null 2>&1 || mh_fail "man -w mmhint finds no page"
man -w 5 mmhint.conf >/dev/null 2>&1 || mh_fail "man -w 5 mmhint.conf finds no page"
if command -v pkg-config >/dev/null; then
  mh_expect_eq "pkg-config --modversion mmhint" "$(pkg-config --modversion mmhint 2>&1)" "$version"
fi
# The soname is in the loader's cache (dpkg ran the ldconfig trigger).
ldconfig -p | grep -q "libmmhint.so.0 " || mh_fail "libmmhint.so.0 is not in the ldconfig cache"

# Purge: nothing registered, no file left.
dpkg --purge mmhint >"$MH_TMP/purge.out" 2>&1 || mh_fail "dpkg --purge failed: $(tail -3 "$MH_TMP/purge.out")"
dpkg -s mmhint >/dev/null 2>&1 && mh_fail "dpkg -s mmhint still succeeds after the purge"
left=""
while read -r f; do
  [ -d "$f" ] && continue
  { [ -e "$f" ] || [ -L "$f" ]; } && left="$left $f"
done < "$MH_TMP/files"
[ -z "$left" ] || mh_fail "files left after the purge:$left"
for d in /usr/share/mmhint /usr/share/doc/mmhint; do
  [ -e "$d" ] && mh_fail "$d is left after the purge"
done
ldconfig -p | grep -q "libmmhint.so.0 " && mh_fail "libmmhint.so.0 is still in the ldconfig cache"
mh_done
