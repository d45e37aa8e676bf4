#!/usr/bin/env bash
# test-windows.sh — the Windows lane (make test-windows): every package's tests
# built for windows/amd64 and run under Wine, then the end-to-end tests that
# drive the real edgeward.exe under Wine from the Linux side.
#
#   1. ../shared/tools/wine-go/setup.sh prepares the Wine prefix (installs wine64
#      and gcc-mingw-w64-x86-64 when missing, builds the bcryptprimitives.dll
#      shim that Go >= 1.22 needs on Debian 12's Wine 8). WINE_GO names
#      another copy of that folder.
#   2. GOOS=windows go test -json ./... runs each test binary through
#      go_windows_amd64_exec (wine64) with Wine's builtin wpcap.dll enabled
#      (setup.sh disables it): no binary may depend on wpcap.dll to start, and
#      the live-capture test captures through it. scripts/testsum prints
#      pass/fail/skip per package and the reason of every skip, and fails the
#      lane on a failure or on a skip without a reason.
#   3. go test -run '^TestWine' ./agent/ (Linux) builds edgeward.exe and runs
#      version, check-config, scan, run + Ctrl-C, buffer stats, the service
#      life cycle, registry-driven baseline verdicts and the wpcap.dll test in
#      throw-away copies of the prefix.
set -euo pipefail
cd "$(dirname "$0")/.."
wine_go=${WINE_GO:-../shared/tools/wine-go}
if [ ! -x "$wine_go/setup.sh" ]; then
	echo "test-windows: $wine_go/setup.sh not found: the Windows lane needs ../shared/tools/wine-go beside the checkout (or WINE_GO=DIR)" >&2
	exit 2
fi
wine_go=$(cd "$wine_go" && pwd)
export WINEPREFIX=${WINEPREFIX:-$HOME/.wine-go} WINEDEBUG=${WINEDEBUG:--all}
go=${GO:-go}

t0=$(date +%s)
"$wine_go/setup.sh" "$WINEPREFIX"
t1=$(date +%s)

echo "== GOOS=windows go test ./... under Wine ($WINEPREFIX, builtin wpcap.dll enabled)"
rc=0
PATH="$wine_go:$PATH" GOOS=windows GOARCH=amd64 CGO_ENABLED=0 WINEDLLOVERRIDES=wpcap=b \
	"$go" test -json -count=1 -p 2 -timeout 30m ./... 2>&1 |
	"$go" run ./scripts/testsum || rc=$?
t2=$(date +%s)

echo "== end-to-end: edgeward.exe under Wine"
"$go" test -json -count=1 -timeout 20m -run '^TestWine' ./agent/ 2>&1 |
	"$go" run ./scripts/testsum || rc=$?
t3=$(date +%s)
echo "test-windows: wine setup $((t1 - t0))s, windows tests $((t2 - t1))s, end-to-end $((t3 - t2))s"
exit $rc
