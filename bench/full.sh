#!/usr/bin/env bash
# Full conversion: `synchroniser convert` (native Go) against hg-git's `hg gexport`, on the same
# real repositories, in one run. Each side converts its own fresh clone of the same repository
# (no .hg/git, no map). The two maps must be identical before a ratio is printed.
# Usage: bench/full.sh [click] [big] [flask]
# Prints Markdown table rows: | benchmark | synchroniser | hg-git | ratio | goal | met |
source "$(dirname "$0")/lib.sh"
[ -x "$bin" ] || die "build first: make build"

# Each side's fresh clone of the repository: native in $a, hg-git in $b.
a=$work/run-native b=$work/run-hggit

# clones SRC: clones SRC afresh into $a and $b.
clones() {
	rm -rf "$a" "$b"
	hg clone -q --noupdate -- "$1" "$a"
	hg clone -q --noupdate -- "$1" "$b"
}

# one NAME DIR: converts DIR both ways and prints a row.
one() {
	local name=$1 src=$2
	local n; n=$(changesets "$src")
	clones "$src"
	echo "bench: $name: native ($n changesets)" >&2
	measure "$work/native.m" "$bin" convert --quiet -- "$a"
	read -r nat_s nat_kb nat_cpu <"$work/native.m"
	echo "bench: $name: hg-git gexport" >&2
	measure "$work/hggit.m" hg -R "$b" --config extensions.hggit= gexport
	read -r hg_s hg_kb hg_cpu <"$work/hggit.m"
	# Same input, same output: the maps must agree before a ratio means anything.
	local lines; lines=$(wc -l <"$a/.hg/git-mapfile")
	cmp -s <(sort "$a/.hg/git-mapfile") <(sort "$b/.hg/git-mapfile") ||
		die "$name: the maps differ between native and hg-git ($(diff <(sort "$a/.hg/git-mapfile") <(sort "$b/.hg/git-mapfile") | grep -c '^[<>]') lines)"
	[ "$lines" -eq "$n" ] || die "$name: the map has $lines lines for $n changesets"
	local r rcpu
	r=$(ratio "$hg_s" "$nat_s")
	rcpu=$(ratio "$hg_cpu" "$nat_cpu")
	printf '| full conversion: %s, %d changesets (maps identical: %d lines) | %s s wall (%s cs/s), %s s CPU, %d MB peak | %s s wall (%s cs/s), %s s CPU, %d MB peak | %s× cs/s (%s× CPU) | ≥ 20× cs/s | %s |\n' \
		"$name" "$n" "$lines" \
		"$nat_s" "$(cs "$n" "$nat_s")" "$nat_cpu" $((nat_kb / 1024)) \
		"$hg_s" "$(cs "$n" "$hg_s")" "$hg_cpu" $((hg_kb / 1024)) \
		"$r" "$rcpu" "$(met "$r >= 20")"
	rm -rf "$a" "$b"
}

# flask: hg-git aborts on its Git subrepository; the native converter converts it whole, with
# warnings for the entries it cannot map. hg-git is run too, to show the abort in this run.
flask() {
	local src; src=$(restore flask)
	local n; n=$(changesets "$src")
	clones "$src"
	echo "bench: flask: native ($n changesets)" >&2
	# The measured run's own --json: warnings belong to the run that converted the changesets.
	MEASURE_STDOUT=$work/native.json measure "$work/native.m" "$bin" convert --json -- "$a"
	read -r nat_s nat_kb nat_cpu <"$work/native.m"
	local lines; lines=$(wc -l <"$a/.hg/git-mapfile")
	[ "$lines" -eq "$n" ] || die "flask: the map has $lines lines for $n changesets"
	local warnings; warnings=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["warnings"]))' "$work/native.json")
	echo "bench: flask: hg-git gexport (expected to abort)" >&2
	local abort hg_done
	if abort=$(hg -R "$b" --config extensions.hggit= gexport 2>&1); then
		abort="hg-git did not abort"
	else
		abort=$(printf '%s\n' "$abort" | grep -m1 '^abort:' || printf '%s\n' "$abort" | tail -1)
	fi
	hg_done=0
	[ -f "$b/.hg/git-mapfile" ] && hg_done=$(wc -l <"$b/.hg/git-mapfile")
	printf '| full conversion: flask, %d changesets (Git subrepository) | %s s wall (%s cs/s), %s s CPU, %d MB peak; %d warnings | hg-git aborts after %d changesets: `%s` | n/a | converts whole | %s |\n' \
		"$n" "$nat_s" "$(cs "$n" "$nat_s")" "$nat_cpu" $((nat_kb / 1024)) "$warnings" \
		"$hg_done" "${abort//|/\\|}" "$(met "$lines == $n")"
	rm -rf "$a" "$b"
}

# Arguments choose the repositories (default: all three, in this order).
for which in "${@:-click big flask}"; do
	for w in $which; do
		case $w in
		click) one click "$(restore click)" ;;
		big) one "click+flask without subrepository" "$(big)" ;;
		flask) flask ;;
		*) die "unknown repository $w (want click, big or flask)" ;;
		esac
	done
done
