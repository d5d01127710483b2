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

# measure OUT CMD...: runs CMD under /usr/bin/time -v; writes "seconds maxrss_kb" to OUT.
measure() {
	local out=$1; shift
	local tv; tv=$(mktemp)
	/usr/bin/time -v "$@" >/dev/null 2>"$tv" || { cat "$tv" >&2; rm -f "$tv"; die "failed: $*"; }
	local wall rss
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tv")
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tv")
	rm -f "$tv"
	# wall is [h:]m:ss.xx
	echo "$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }') $rss" >"$out"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "n/a" }'; }
