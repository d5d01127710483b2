#!/usr/bin/env bash
# Large histories: the twisted corpus (41,920 changesets, 1,702 heads, 1,885 bookmarks).
#   - full conversion of twisted, native, with its peak memory; against hg-git's gexport when its
#     result is in the bench cache (HGGIT_TWISTED=1 runs hg-git once and keeps its map and time:
#     it takes many minutes). The maps must be identical before a ratio is printed.
#   - one new changeset converted incrementally on twisted and on click (the conversion step
#     alone, `synchroniser convert`), wall time in milliseconds and peak memory: their ratio shows
#     whether the cost of an increment depends on the history behind it.
# Prints Markdown table rows: | benchmark | value | reference | ratio | goal | met |
source "$(dirname "$0")/lib.sh"
[ -x "$bin" ] || die "build first: make build"

# incremental NAME SRC: full conversion of a clone, then ITERATIONS one-changeset increments;
# sets inc_ms (median wall, ms), inc_all (every increment's), inc_kb (largest peak),
# full_s/full_kb/full_cpu and full_lines (map lines).
incremental() {
	local name=$1 src=$2 a=$work/large-$1
	rm -rf "$a"; hg clone -q --noupdate -- "$src" "$a"
	[ -f "$src/.hg/bookmarks" ] && cp "$src/.hg/bookmarks" "$a/.hg/bookmarks"
	echo "bench: large: $name: full native conversion" >&2
	measure "$work/large.m" "$bin" convert --quiet -- "$a"
	read -r full_s full_kb full_cpu <"$work/large.m"
	full_lines=$(wc -l <"$a/.hg/git-mapfile")
	local times=() i
	inc_kb=0
	for i in $(seq 1 "${ITERATIONS:-5}"); do
		add_one "$a" "$i"
		measure_ms "$work/large.m" "$bin" convert --quiet -- "$a"
		local ms kb cpu; read -r ms kb cpu <"$work/large.m"
		times+=("$ms"); [ "$kb" -gt "$inc_kb" ] && inc_kb=$kb
		echo "bench: large: $name: increment $i: $ms ms, $((kb / 1024)) MB peak" >&2
	done
	inc_all="${times[*]}"
	inc_ms=$(printf '%s\n' "${times[@]}" | median)
	large_map=$a/.hg/git-mapfile
}

tw=$(twisted)
n_tw=$(changesets "$tw")
incremental twisted "$tw"
tw_full_s=$full_s tw_full_kb=$full_kb tw_full_cpu=$full_cpu tw_inc_ms=$inc_ms tw_inc_kb=$inc_kb tw_inc_all=$inc_all
# The native map of the unchanged twisted history: the lines the full conversion wrote (increments
# append; octopus parts have none, so there are fewer lines than changesets).
head -n "$full_lines" "$large_map" | sort >"$work/twisted-native.map"

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

# The memory setting's trade: twisted fully converted again with a quarter of the default bound
# (--memory is [convert] memory's flag), against the default run above; the maps must agree.
lm=$work/large-twisted-lowmem
rm -rf "$lm"; hg clone -q --noupdate -- "$tw" "$lm"; cp "$tw/.hg/bookmarks" "$lm/.hg/bookmarks"
echo "bench: large: twisted: full native conversion with --memory 64MiB" >&2
measure "$work/large.m" "$bin" convert --quiet --memory 64MiB -- "$lm"
read -r lm_s lm_kb lm_cpu <"$work/large.m"
sort "$lm/.hg/git-mapfile" | cmp -s - "$work/twisted-native.map" || die "twisted: the --memory 64MiB map differs from the default run's"
rm -rf "$lm"
printf '| full conversion: twisted with --memory 64MiB (maps identical to the default run'"'"'s) | %s s wall (%s cs/s), %s s CPU, %d MB peak | default (256 MiB): %s s wall, %d MB peak | %s× | peak below the default run'"'"'s | %s |\n' \
	"$lm_s" "$(cs "$n_tw" "$lm_s")" "$lm_cpu" "$(mb "$lm_kb")" "$tw_full_s" "$(mb "$tw_full_kb")" \
	"$(ratio "$tw_full_s" "$lm_s")" "$(met "$lm_kb < $tw_full_kb")"

cl=$(restore click)
n_cl=$(changesets "$cl")
incremental click "$cl"
printf '| incremental: 1 new changeset, conversion step (median of %s): twisted (%d) vs click (%d) | twisted %s ms (%s), %d MB peak | click %s ms (%s), %d MB peak | %s× | twisted ≤ 50 ms, ≤ 64 MB, ratio ≤ 2 (≈ 1) | %s |\n' \
	"${ITERATIONS:-5}" "$n_tw" "$n_cl" "$tw_inc_ms" "$tw_inc_all" "$(mb "$tw_inc_kb")" "$inc_ms" "$inc_all" "$(mb "$inc_kb")" \
	"$(ratio "$tw_inc_ms" "$inc_ms")" "$(met "$tw_inc_ms <= 50 && $tw_inc_kb <= 65536 && $tw_inc_ms <= 2 * $inc_ms")"
