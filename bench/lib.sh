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

# now: seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }

# secs T0 T1: T1 - T0 with 3 decimals.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# met CONDITION: "yes" or "**no**" for an awk condition.
met() { awk "BEGIN { if ($1) print \"yes\"; else print \"**no**\" }"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
