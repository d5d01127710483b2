#!/usr/bin/env bash
# Runs every benchmark (full conversion, incremental sync, webhook intake, large histories, large
# histories through serve, native transport) against its reference
# in one run and writes bench/RESULTS.md: the machine, the date, the load, each figure, the goals.
# `make bench` runs it after `make build`.
source "$(dirname "$0")/lib.sh"
[ -x "$bin" ] || die "build first: make build"
out=${RESULTS:-$here/RESULTS.md}
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT

load() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(load)
started=$(date -u '+%Y-%m-%d %H:%M UTC')
t0=$(now)

run() {
	echo "bench: $1" >&2
	"$here/$1" "${@:2}" | tee -a "$rows"
}
run full.sh
echo "| *load average after full conversion: $(load)* | | | | | |" >>"$rows"
run incremental.sh
echo "| *load average after incremental: $(load)* | | | | | |" >>"$rows"
run intake.sh
echo "| *load average after intake: $(load)* | | | | | |" >>"$rows"
run large.sh
echo "| *load average after large histories: $(load)* | | | | | |" >>"$rows"
run large-serve.sh
echo "| *load average after large histories through serve: $(load)* | | | | | |" >>"$rows"
run native-transport.sh
echo "| *load average after native transport: $(load)* | | | | | |" >>"$rows"

hggit_version=$(dpkg-query -W -f='${Version} (Debian mercurial-git)' mercurial-git 2>/dev/null || true)
mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
os=$(. /etc/os-release && echo "$PRETTY_NAME")
cpu=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)
{
	echo "# Benchmark results"
	echo
	echo "Written by \`bench/run-all.sh\` (\`make bench\`); every ratio is measured in the same run, on the"
	echo "same input, against the reference (hg-git 1.0.x, or the original clone + hg-git push approach)."
	echo
	echo "| Machine | |"
	echo "|---|---|"
	echo "| date | $started ($(secs "$t0" "$(now)") s for the whole run) |"
	echo "| CPUs (nproc) | $(nproc) |"
	echo "| CPU model | $cpu |"
	echo "| RAM | $mem |"
	echo "| OS | $os, kernel $(uname -r) |"
	echo "| hg | $(hg version -q | sed -n 's/.*(version \(.*\))/\1/p') |"
	echo "| hg-git | ${hggit_version:-unknown} |"
	echo "| git | $(git --version | awk '{print $3}') |"
	echo "| go | $(go env GOVERSION 2>/dev/null || echo unknown) |"
	echo "| synchroniser | $("$bin" version | awk '{print $2}') |"
	echo "| load average (1, 5, 15 min) at start | $load_before (other jobs were running on this machine) |"
	echo
	echo "| Benchmark | Synchroniser | Reference (hg-git / original) | Ratio | Goal | Met |"
	echo "|---|---|---|---|---|---|"
	cat "$rows"
	echo
	echo "Notes:"
	echo "- Wall times on a loaded machine measure the load as much as the program; CPU seconds"
	echo "  (user + system, from \`/usr/bin/time -v\`) are given beside them for the conversions. A goal"
	echo "  is met only when its condition holds on the figures as printed. The conversion goal is the"
	echo "  issue's: changesets per second (wall) of each, and their ratio; the native converter reads"
	echo "  ahead on a second core, so its CPU ratio is lower and printed beside it."
	echo "- Full conversion: each side converts its own fresh \`hg clone\` of the repository; the two"
	echo "  \`.hg/git-mapfile\` are compared (sorted, byte for byte) before a ratio is printed."
	echo "- The big repository is flask without its Git subrepository (\`hg convert --filemap\`) with"
	echo "  click pulled in: two public histories, two roots (see \`big()\` in bench/lib.sh)."
	echo "- Incremental: \`synchroniser serve\` with its source on \`hg serve\` and a local bare Git"
	echo "  destination; the time is POST /synchronise/?wait=1 → 200, after which the destination's"
	echo "  ref (master: big has no bookmarks) is checked to be the new changeset's commit. The original approach is a fresh"
	echo "  \`hg clone\` + \`hg bookmark -r tip master\` + hg-git \`hg push\` to a copy of the destination."
	echo "- Intake: \`serve --no-workers\` (SQLite); each request has a new delivery id."
	echo "- Large histories (bench/large.sh): twisted (41,920 changesets, 1,702 heads, 1,885 bookmarks),"
	echo "  full conversion and one-changeset increments of the conversion step alone, against click's;"
	echo "  hg-git's twisted conversion is run once per machine (HGGIT_TWISTED=1) and cached."
	echo "- Native transport (bench/native-transport.sh): internal/hgwire against the hg transport, the"
	echo "  reference column being hg (\`hg pull\`, \`hg clone\`, or the same sync with transport = \"hg\");"
	echo "  the webhook rows run two \`synchroniser serve\`, one per transport, on the same new changesets;"
	echo "  the first syncs of flask must give the same map; the memory row compares the native first sync's"
	echo "  peak RSS with \`synchroniser convert\` of a fresh clone of flask."
} >"$out"
echo "bench: wrote $out" >&2
