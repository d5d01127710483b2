#!/usr/bin/env bash
# Large histories: the twisted corpus (41,920 changesets, 1,702 heads, 1,885 bookmarks).
#   - full conversion of twisted, native, with its peak memory; against hg-git's gexport when its
#     result is in the bench cache (HGGIT_TWISTED=1 runs hg-git once and keeps its map and time:
#     it takes many minutes). The maps must be identical before a ratio is printed.
#   - one new changeset converted incrementally on twisted and on click (the conversion step
#     alone, `synchroniser convert`), wall time and peak memory: their ratio shows whether the
#     cost of an increment depends on the history behind it.
# Prints Markdown table rows: | benchmark | value | reference | ratio | goal | met |
source "$(dirname "$0")/lib.sh"
[ -x "$bin" ] || die "build first: make build"

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

# incremental NAME SRC: full conversion of a clone, then ITERATIONS one-changeset increments;
# sets inc_s (median wall), inc_kb (largest peak) and full_s/full_kb/full_cpu.
incremental() {
	local name=$1 src=$2 a=$work/large-$1
	rm -rf "$a"; hg clone -q --noupdate -- "$src" "$a"
	[ -f "$src/.hg/bookmarks" ] && cp "$src/.hg/bookmarks" "$a/.hg/bookmarks"
	echo "bench: large: $name: full native conversion" >&2
	measure "$work/large.m" "$bin" convert --quiet -- "$a"
	read -r full_s full_kb full_cpu <"$work/large.m"
	local times=() i
	inc_kb=0
	for i in $(seq 1 "${ITERATIONS:-5}"); do
		add_one "$a" "$i"
		measure "$work/large.m" "$bin" convert --quiet -- "$a"
		local s kb cpu; read -r s kb cpu <"$work/large.m"
		times+=("$s"); [ "$kb" -gt "$inc_kb" ] && inc_kb=$kb
		echo "bench: large: $name: increment $i: $s s, $((kb / 1024)) MB peak" >&2
	done
	inc_all="${times[*]}"
	inc_s=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
	large_map=$a/.hg/git-mapfile
}

tw=$(twisted)
n_tw=$(hg -R "$tw" log -r tip -T '{rev}'); n_tw=$((n_tw + 1))
incremental twisted "$tw"
tw_full_s=$full_s tw_full_kb=$full_kb tw_full_cpu=$full_cpu tw_inc_s=$inc_s tw_inc_kb=$inc_kb tw_inc_all=$inc_all
# The native map of the unchanged twisted history (its first n_tw lines: increments append).
head -n "$n_tw" "$large_map" | sort >"$work/twisted-native.map"

# hg-git's full conversion of twisted, cached: map and "wall_seconds maxrss_kb cpu_seconds".
hgc=$work/twisted-hggit
if [ ! -f "$hgc.m" ] && [ "${HGGIT_TWISTED:-0}" = 1 ]; then
	echo "bench: large: hg-git gexport of twisted (many minutes, once per machine)" >&2
	b=$work/run-hggit-twisted; rm -rf "$b"
	hg clone -q --noupdate -- "$tw" "$b"; cp "$tw/.hg/bookmarks" "$b/.hg/bookmarks"
	measure "$hgc.m.tmp" hg -R "$b" --config extensions.hggit= gexport
	sort "$b/.hg/git-mapfile" >"$hgc.map"; mv "$hgc.m.tmp" "$hgc.m"; rm -rf "$b"
fi
mb() { echo $(($1 / 1024)); }
cs() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
if [ -f "$hgc.m" ]; then
	read -r hg_s hg_kb hg_cpu <"$hgc.m"
	cmp -s "$work/twisted-native.map" "$hgc.map" || die "twisted: the maps differ between native and hg-git"
	printf '| full conversion: twisted, %d changesets (maps identical to hg-git'"'"'s) | %s s wall (%s cs/s), %s s CPU, %d MB peak | hg-git (cached): %s s wall, %s s CPU, %d MB peak | %s× | ≥ 4,000 cs/s, ≤ 256 MB | %s |\n' \
		"$n_tw" "$tw_full_s" "$(cs "$n_tw" "$tw_full_s")" "$tw_full_cpu" "$(mb "$tw_full_kb")" "$hg_s" "$hg_cpu" "$(mb "$hg_kb")" \
		"$(ratio "$hg_s" "$tw_full_s")" "$(met "$n_tw / $tw_full_s >= 4000 && $tw_full_kb <= 262144")"
else
	printf '| full conversion: twisted, %d changesets | %s s wall (%s cs/s), %s s CPU, %d MB peak | hg-git not run (HGGIT_TWISTED=1 runs it once) | | ≥ 4,000 cs/s, ≤ 256 MB | %s |\n' \
		"$n_tw" "$tw_full_s" "$(cs "$n_tw" "$tw_full_s")" "$tw_full_cpu" "$(mb "$tw_full_kb")" \
		"$(met "$n_tw / $tw_full_s >= 4000 && $tw_full_kb <= 262144")"
fi

cl=$(restore click)
n_cl=$(hg -R "$cl" log -r tip -T '{rev}'); n_cl=$((n_cl + 1))
incremental click "$cl"
printf '| incremental: 1 new changeset, conversion step (median of %s): twisted (%d) vs click (%d) | twisted %s s (%s), %d MB peak | click %s s (%s), %d MB peak | %s× | twisted ≤ 0.05 s, ≤ 64 MB, ratio ≈ 1 | %s |\n' \
	"${ITERATIONS:-5}" "$n_tw" "$n_cl" "$tw_inc_s" "$tw_inc_all" "$(mb "$tw_inc_kb")" "$inc_s" "$inc_all" "$(mb "$inc_kb")" \
	"$(ratio "$tw_inc_s" "$inc_s")" "$(met "$tw_inc_s <= 0.05 && $tw_inc_kb <= 65536")"
