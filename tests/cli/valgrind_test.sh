#!/usr/bin/env bash
# convlab re-executes itself to turn on huge pages for malloc (sim/huge_pages.hpp), except under
# valgrind, where /proc/self/exe is valgrind's tool: `convlab --version` under valgrind must print
# its version, not fail to re-execute. Skips, saying why, without valgrind (Debian package
# valgrind; scripts/setup.sh installs it); under CI=true that skip fails.
#   valgrind_test.sh CONVLAB SOURCE_DIR
set -uo pipefail
exe="$1"
src="$2"
. "$src/tests/support/skip.sh"
valgrind="$(command -v valgrind)" || skip_or_fail "valgrind is not on PATH (Debian package valgrind; scripts/setup.sh installs it)"
out="$("$valgrind" --tool=none -q "$exe" --version 2>&1)"
code=$?
echo "$out"
if [ "$code" -ne 0 ]; then
  echo "FAIL: convlab --version under valgrind exited $code" >&2
  exit 1
fi
if grep -q "cannot run" <<<"$out" || ! grep -Eq '^convlab [0-9]+\.[0-9]+' <<<"$out"; then
  echo "FAIL: convlab --version under valgrind did not print its version" >&2
  exit 1
fi
