# Shared helpers for the benchmark scripts (sourced, not run).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
corpus=${CORPUS:-$root/../shared/corpus}
work=${BENCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/synchroniser-bench}
bin=$root/bin/synchroniser
mkdir -p "$work"
export HGPLAIN=1 HGRCPATH= HGUSER="bench <bench@localhost>"

die() { echo "bench: $*" >&2; exit 1; }

# restore NAME: a Mercurial repository from the corpus bundle, made once and reused.
restore() {
	local name=$1 dir=$work/$1
	[ -f "$corpus/$name.hg" ] || die "missing $corpus/$name.hg"
	if [ ! -f "$dir/.hg/bench-ok" ]; then
		rm -rf "$dir"; hg init "$dir"; hg -R "$dir" unbundle -q "$corpus/$name.hg"; touch "$dir/.hg/bench-ok"
	fi
	echo "$dir"
}

# twisted: the corpus bundle with its bookmarks, made once and reused.
twisted() {
	local dir=$work/twisted
	if [ ! -f "$dir/.hg/bench-ok" ]; then
		[ -f "$corpus/twisted.hg" ] || die "missing $corpus/twisted.hg"
		echo "bench: large: unbundling twisted (once)" >&2
		rm -rf "$dir"; hg init "$dir"; hg -R "$dir" unbundle -q "$corpus/twisted.hg"
		cp "$corpus/twisted.bookmarks" "$dir/.hg/bookmarks"
		touch "$dir/.hg/bench-ok"
	fi
	echo "$dir"
}

# add_one DIR I: commits one changeset on top of tip without a working copy.
add_one() {
	local dir=$1 i=$2 patch; patch=$(mktemp)
	printf 'diff --git a/bench-large-%s b/bench-large-%s\nnew file mode 100644\n--- /dev/null\n+++ b/bench-large-%s\n@@ -0,0 +1,1 @@\n+%s\n' "$i" "$i" "$i" "$i" >"$patch"
	hg -R "$dir" debugsetparents -- "$(hg -R "$dir" log -r tip -T '{node}')"
	hg -R "$dir" import -q --bypass -m "bench: one more $i" -- "$patch"
	rm -f "$patch"
}

# big: the >= 5,000-changeset repository hg-git can convert, made at run time from public history.
# flask.hg has a Git subrepository that hg-git aborts on, so `hg convert --filemap` drops
# .hgsub/.hgsubstate from flask's history (4,587 changesets remain; the ones that only moved the
# subrepository become empty and hg convert prunes them), and click's history (3,333) is pulled
# into the same repository: 7,920 real changesets from two public projects, two unrelated roots.
big() {
	local dir=$work/big
	if [ ! -f "$dir/.hg/bench-ok" ]; then
		local flask click; flask=$(restore flask); click=$(restore click)
		rm -rf "$dir" "$work/flask-nosub"
		printf 'exclude .hgsub\nexclude .hgsubstate\n' >"$work/nosub.filemap"
		echo "bench: hg convert of flask without its subrepository (about 2 minutes, once)" >&2
		hg --config extensions.convert= convert -q --filemap "$work/nosub.filemap" -- "$flask" "$work/flask-nosub" >/dev/null 2>&1
		hg clone -q --noupdate -- "$click" "$dir"
		hg -R "$dir" pull -q -f -- "$work/flask-nosub"
		touch "$dir/.hg/bench-ok"
	fi
	echo "$dir"
}

# measure OUT CMD...: runs CMD under /usr/bin/time -v; writes "wall_seconds maxrss_kb cpu_seconds"
# to OUT (cpu = user + system: on a loaded machine it moves less than wall time).
# MEASURE_STDOUT=FILE keeps the command's output.
measure() {
	local out=$1; shift
	local tv; tv=$(mktemp)
	/usr/bin/time -v "$@" >"${MEASURE_STDOUT:-/dev/null}" 2>"$tv" || { tail -5 "$tv" >&2; rm -f "$tv"; die "failed: $*"; }
	measured "$tv" >"$out"
	rm -f "$tv"
}

# measure_ms OUT CMD...: measure, but the wall time in milliseconds, from bash's clock around the
# command (GNU time's is in hundredths of a second): "wall_ms maxrss_kb cpu_seconds" to OUT.
measure_ms() {
	local out=$1; shift
	local tv t0 t1; tv=$(mktemp)
	t0=$EPOCHREALTIME
	/usr/bin/time -v "$@" >"${MEASURE_STDOUT:-/dev/null}" 2>"$tv" || { tail -5 "$tv" >&2; rm -f "$tv"; die "failed: $*"; }
	t1=$EPOCHREALTIME
	measured "$tv" | awk -v a="$t0" -v b="$t1" '{ printf "%.1f %d %s\n", (b - a) * 1000, $2, $3 }' >"$out"
	rm -f "$tv"
}

# measured FILE: "wall_seconds maxrss_kb cpu_seconds" from /usr/bin/time -v output.
measured() {
	awk -F': ' '
		/Elapsed \(wall clock\)/ { n = split($2, p, ":"); wall = (n == 3) ? p[1]*3600 + p[2]*60 + p[3] : p[1]*60 + p[2] }
		/Maximum resident set size/ { rss = $2 }
		/User time \(seconds\)/ { cpu += $2 }
		/System time \(seconds\)/ { cpu += $2 }
		END { printf "%.2f %d %.2f\n", wall, rss, cpu }' "$1"
}

# free_port: a TCP port free on 127.0.0.1 now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# hg_serve REPO LOG: serves REPO with `hg serve` on a free port of 127.0.0.1, logging to LOG; sets
# hg_port and adds the server to the caller's pids (for its cleanup: called in the script's own
# shell, not in a $(...) subshell, so that the pid is kept).
hg_serve() {
	hg_port=$(free_port)
	hg serve -R "$1" -p "$hg_port" --address 127.0.0.1 >"$2" 2>&1 &
	pids+=($!)
	wait_http "http://127.0.0.1:$hg_port/?cmd=capabilities" "$2" "hg serve of $1"
}

# now: seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }

# secs T0 T1: T1 - T0 with 3 decimals.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# met CONDITION: "yes" or "**no**" for an awk condition.
met() { awk "BEGIN { if ($1) print \"yes\"; else print \"**no**\" }"; }

# changesets DIR: the number of changesets of the repository at DIR.
changesets() { local n; n=$(hg -R "$1" log -r tip -T '{rev}'); echo $((n + 1)); }

# cs N SECONDS: N changesets in SECONDS as changesets per second, rounded.
cs() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }

# median: the median of the numbers on stdin, one a line.
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# serve_config FILE PORT DATA_DIR HG_URL NAME DEST [LINE...]: a `synchroniser serve` configuration
# with the legacy webhook and one hg mirror NAME (repository bench/NAME) of HG_URL to the local
# bare repository DEST; each LINE is added to the mirror's table (e.g. transport = "hg").
serve_config() {
	local file=$1 port=$2 data=$3 url=$4 name=$5 dest=$6; shift 6
	{
		cat <<TOML
listen = "127.0.0.1:$port"
data_dir = "$data"
[log]
level = "warn"
[source]
schemes = ["http"]
hosts = ["127.0.0.1"]
allow_private = true
allow_file = true   # local destination
[limits]
rate_per_source = 0
concurrent_syncs = 1
[legacy]
enabled = true
wait_timeout = "30m"
[[mirror]]
name = "$name"
scm = "hg"
source = "$url"
repository = "bench/$name"
TOML
		printf '%s\n' "$@"
		printf '[mirror.destination]\nurl = "%s"\n' "$dest"
	} >"$file"
}

# wait_serve PORT LOG: waits until `synchroniser serve` on PORT answers /healthz.
wait_serve() { wait_http "http://127.0.0.1:$1/healthz" "$2" "serve on port $1"; }

# wait_http URL LOG WHAT: waits (up to a minute) until URL answers, else shows LOG and stops.
wait_http() {
	for _ in $(seq 1 300); do
		curl -fsS "$1" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	cat "$2" >&2
	die "$3 did not start"
}

# legacy_post PORT HG_BASE NAME NODE ANSWER: POST /synchronise/?wait=1 (the legacy Bitbucket payload
# for bench/NAME, answered after the sync); prints the HTTP status, the body goes to ANSWER.
legacy_post() {
	curl -sS --max-time 1800 -o "$5" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		--data-binary "{\"canon_url\":\"$2\",\"user\":\"bench\",\"repository\":{\"absolute_url\":\"/bench/$3/\",\"owner\":\"bench\",\"slug\":\"$3\",\"scm\":\"hg\"},\"commits\":[{\"raw_node\":\"$4\",\"branch\":\"default\"}]}" \
		"http://127.0.0.1:$1/synchronise/?wait=1"
}
