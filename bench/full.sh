#!/usr/bin/env bash
# Full conversion: the native converter against hg-git on the same real repositories, in one run.
# Prints changesets/s and peak memory of each and their ratio; with --markdown, table rows.
source "$(dirname "$0")/lib.sh"
[ -x "$bin" ] || die "build first: make build"

# one NAME DIR WITH_HGGIT: converts a copy of DIR both ways (fresh .hg/git each time).
one() {
	local name=$1 src=$2 with_hggit=$3
	local n; n=$(hg -R "$src" log -r tip -T '{rev}'); n=$((n + 1))
	local a=$work/run-native b=$work/run-hggit
	rm -rf "$a" "$b"
	hg clone -q --noupdate -- "$src" "$a"
	measure "$work/native.m" "$bin" convert --quiet -- "$a"
	read -r nat_s nat_kb <"$work/native.m"
	local hg_s=n/a hg_kb=n/a speed_hg=n/a r=n/a
	if [ "$with_hggit" = yes ]; then
		hg clone -q --noupdate -- "$src" "$b"
		measure "$work/hggit.m" hg -R "$b" --config extensions.hggit= gexport
		read -r hg_s hg_kb <"$work/hggit.m"
		# Same input, same output: the maps must agree before a ratio means anything.
		cmp -s <(sort "$a/.hg/git-mapfile") <(sort "$b/.hg/git-mapfile") || die "$name: maps differ between native and hg-git"
		speed_hg=$(awk -v n="$n" -v s="$hg_s" 'BEGIN { printf "%.0f", n / s }')
		r=$(ratio "$hg_s" "$nat_s")
		hg_kb=$((hg_kb / 1024))
	fi
	local speed_nat; speed_nat=$(awk -v n="$n" -v s="$nat_s" 'BEGIN { printf "%.0f", n / s }')
	printf '| full conversion: %s (%d changesets) | %s s, %s cs/s, %d MB | %s s, %s cs/s, %s MB | %s× |\n' \
		"$name" "$n" "$nat_s" "$speed_nat" $((nat_kb / 1024)) "$hg_s" "$speed_hg" "$hg_kb" "$r"
}

one click "$(restore click)" yes
one "click+flask (no subrepo)" "$(big)" yes
# hg-git aborts on flask ("invalid subrepository revision specifier"): no hg-git figure exists.
one "flask (hg-git aborts)" "$(restore flask)" no
