#!/usr/bin/env bash
# footprint.sh: the footprint check run by `make footprint`.
#
# 1. Builds the four release targets as `make cross` does (CGO_ENABLED=0,
#    -trimpath, -s -w) and prints their sizes; each must be at most
#    FOOTPRINT_MAX_BIN bytes (15 MiB).
# 2. Runs the linux/amd64 binary idle for FOOTPRINT_SECONDS (default 600):
#    host and baseline collectors, no capture, no broker, the buffer in a
#    temporary directory. It samples VmRSS and VmHWM from /proc/PID/status
#    every second and reads utime+stime from /proc/PID/stat at the end:
#    mean RSS at most FOOTPRINT_MAX_RSS_KIB (20 MiB); peak RSS (VmHWM: the
#    first host and baseline scans run together at start) at most
#    FOOTPRINT_MAX_PEAK_KIB (20 MiB), so no sample is above 20 MiB; CPU
#    (process CPU time / wall time, start-up included) at most
#    FOOTPRINT_MAX_CPU percent (1). RSS counts the binary's file-backed pages
#    too; the table shows the anonymous and file-backed parts at the end.
#
# It prints a table and exits 1 when a target fails, 2 when it cannot measure.
set -euo pipefail

GO=${GO:-go}
SECS=${FOOTPRINT_SECONDS:-600}
MAX_BIN=${FOOTPRINT_MAX_BIN:-15728640}
MAX_RSS_KIB=${FOOTPRINT_MAX_RSS_KIB:-20480}
MAX_PEAK_KIB=${FOOTPRINT_MAX_PEAK_KIB:-20480}
MAX_CPU=${FOOTPRINT_MAX_CPU:-1}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
LDFLAGS="-s -w -X github.com/edgeward/edgeward/agent.Version=$VERSION"

if [[ $(uname -s) != Linux ]]; then
	echo "footprint: the idle measurement reads /proc: run it on Linux" >&2
	exit 2
fi
if ! [[ $SECS =~ ^[0-9]+$ ]] || ((SECS < 10)); then
	echo "footprint: FOOTPRINT_SECONDS=$SECS: give a whole number of seconds, at least 10" >&2
	exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/edgeward-footprint.XXXXXX")
pid=
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail=0
mib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'; }

echo "== stripped binaries ($VERSION, $($GO version | awk '{print $3}'))"
printf '%-15s %12s %9s %9s  %s\n' target bytes MiB "max MiB" result
for t in linux/amd64 linux/arm64 linux/arm windows/amd64; do
	os=${t%/*} arch=${t#*/} ext=
	[[ $os == windows ]] && ext=.exe
	out=$work/edgeward-$os-$arch$ext
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch GOARM=7 $GO build -trimpath -ldflags "$LDFLAGS" -o "$out" ./agent/cmd/edgeward
	size=$(stat -c %s "$out")
	res=ok
	if ((size > MAX_BIN)); then res=FAIL; fail=1; fi
	printf '%-15s %12d %9s %9s  %s\n' "$t$([[ $t == linux/arm ]] && echo ' v7')" "$size" "$(mib "$size")" "$(mib "$MAX_BIN")" "$res"
done

# The idle run uses the binary of this machine (the linux/amd64 one on
# amd64, else a native build).
bin=$work/edgeward
CGO_ENABLED=0 $GO build -trimpath -ldflags "$LDFLAGS" -o "$bin" ./agent/cmd/edgeward
cat >"$work/footprint.yaml" <<EOF
agent:
  id: footprint
buffer:
  path: $work/buffer.db
uplink:
  brokers: []
collectors:
  host:
    enabled: true
  baseline:
    enabled: true
  passive:
    enabled: false
log:
  level: warn
EOF
"$bin" check-config -c "$work/footprint.yaml" >/dev/null

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "== idle run: host + baseline, no capture, no broker, ${SECS}s (load average before: $load_before)"
"$bin" run -c "$work/footprint.yaml" >"$work/agent.log" 2>&1 &
pid=$!
start=$(date +%s.%N)
n=0 sum_kib=0 hwm_kib=0
for ((i = 0; i < SECS; i++)); do
	sleep 1
	if ! status=$(cat "/proc/$pid/status" 2>/dev/null) || ! kill -0 "$pid" 2>/dev/null; then
		echo "footprint: the agent exited after ${i}s; its log:" >&2
		cat "$work/agent.log" >&2
		exit 2
	fi
	read -r rss hwm_kib anon_kib file_kib < <(awk '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} /^RssAnon:/ {a=$2} /^RssFile:/ {f=$2} END {print r, h, a, f}' <<<"$status")
	n=$((n + 1)) sum_kib=$((sum_kib + rss))
	stat=$(cat "/proc/$pid/stat")
done
end=$(date +%s.%N)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
# Fields after the ")" that ends the command name: utime is field 14, stime 15.
read -r utime stime < <(sed 's/.*) //' <<<"$stat" | awk '{print $12, $13}')
hz=$(getconf CLK_TCK)
cpu=$(awk -v u="$utime" -v s="$stime" -v hz="$hz" -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", 100 * (u + s) / hz / (b - a) }')
cpu_s=$(awk -v u="$utime" -v s="$stime" -v hz="$hz" 'BEGIN { printf "%.2f", (u + s) / hz }')
mean_kib=$((sum_kib / n))

rss_res=ok peak_res=ok cpu_res=ok
if ((mean_kib > MAX_RSS_KIB)); then rss_res=FAIL; fail=1; fi
if ((hwm_kib > MAX_PEAK_KIB)); then peak_res=FAIL; fail=1; fi
if awk -v c="$cpu" -v m="$MAX_CPU" 'BEGIN { exit !(c > m) }'; then cpu_res=FAIL; fail=1; fi
printf '%-15s %14s %12s  %s\n' measure value max result
printf '%-15s %10s MiB %8s MiB  %s\n' "mean RSS" "$(mib $((mean_kib * 1024)))" "$(mib $((MAX_RSS_KIB * 1024)))" "$rss_res ($n samples)"
printf '%-15s %10s MiB %8s MiB  %s\n' "peak RSS" "$(mib $((hwm_kib * 1024)))" "$(mib $((MAX_PEAK_KIB * 1024)))" "$peak_res (VmHWM, start-up scans)"
printf '%-15s %10s MiB %12s  %s\n' "RSS at end" "$(mib $((rss * 1024)))" "" "anon $(mib $((anon_kib * 1024))) + file $(mib $((file_kib * 1024))) MiB"
printf '%-15s %12s %% %10s %%  %s\n' "CPU" "$cpu" "$MAX_CPU" "$cpu_res ($cpu_s s CPU in ${SECS}s)"
echo "load average after: $load_after"
if [[ -s $work/agent.log ]]; then
	echo "agent log (warnings and errors):"
	sed 's/^/  /' "$work/agent.log" | head -20
fi
exit $fail
