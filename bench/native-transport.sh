#!/usr/bin/env bash
# Native Mercurial transport (internal/hgwire) against the hg transport, each pair in the same
# run on the same input, sources on `hg serve` at 127.0.0.1:
#   1. the pull step alone, one new changeset of click: hgwire.Pull against `hg pull` (median of
#      ITERATIONS), and the first clone of flask against `hg clone -U` (go test, HGWIRE_BENCH=1);
#   2. one new changeset of click, webhook POST → destination updated: two `synchroniser serve`,
#      one per transport (transport = "native" | "hg" in the mirror), each with its own cache
#      and local bare destination; ITERATIONS times a changeset is committed in the source and
#      POST /synchronise/?wait=1 sent to each (alternating which goes first), the destination's
#      ref checked to be the new commit; medians compared;
#   3. the first sync of flask over HTTP (clone + convert + push): `synchroniser mirror
#      --transport native|hg` into a new cache and destination;
#   4. the peak memory (max RSS, /usr/bin/time -v) of (3)'s native sync against
#      `synchroniser convert` of a fresh clone of flask (the conversion alone).
# Prints Markdown table rows: | benchmark | native | hg | ratio | goal | met |
source "$(dirname "$0")/lib.sh"
[ -x "$bin" ] || die "build first: make build"
iterations=${ITERATIONS:-5}
dir=$work/native-transport
rm -rf "$dir"; mkdir -p "$dir"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# 1. The pull step alone.
(cd "$root" && HGWIRE_BENCH=1 ITERATIONS=$iterations go test -v -count=1 -timeout 30m -run '^TestBenchNativeTransport$' ./internal/hgwire/) |
	grep '^| '

# The transport setting (issue 13) must be in this build for 2–4.
if ! "$bin" mirror --help 2>&1 | grep -- '-transport' >/dev/null; then
	echo "| webhook, first sync and memory rows: not run, this build has no --transport setting | | | | | **no** |"
	exit 0
fi

# 2. Webhook → destination, one new changeset of click.
click=$(restore click)
hg clone -q --noupdate -- "$click" "$dir/src"
if hg -R "$dir/src" log -r 'bookmark(main)' -T '{rev}' >/dev/null 2>&1; then
	ref=main; hg -R "$dir/src" update -q -r main
else
	ref=master; hg -R "$dir/src" update -q -r tip
fi
hg_serve "$dir/src" "$dir/click-hgserve.log"
hgport=$hg_port
declare -A port
for t in native hg; do
	git init -q --bare "$dir/$t.git"
	port[$t]=$(free_port)
	serve_config "$dir/$t.toml" "${port[$t]}" "$dir/data-$t" "http://127.0.0.1:$hgport/" click "$dir/$t.git" "transport = \"$t\""
	"$bin" serve --config "$dir/$t.toml" >"$dir/serve-$t.log" 2>&1 &
	pids+=($!)
done
for t in native hg; do wait_serve "${port[$t]}" "$dir/serve-$t.log"; done

# webhook_sync T NODE: POSTs to transport T's serve, checks its destination; prints the seconds.
webhook_sync() {
	local t=$1 node=$2 t0 t1 code want got
	t0=$(now)
	code=$(legacy_post "${port[$t]}" "http://127.0.0.1:$hgport" click "$node" "$dir/answer-$t.json")
	t1=$(now)
	[ "$code" = 200 ] || { cat "$dir/answer-$t.json" >&2; tail -20 "$dir/serve-$t.log" >&2; die "$t: sync answered $code"; }
	want=$(awk -v n="$node" '$2 == n { print $1 }' "$dir/data-$t/cache/click/hg/.hg/git-mapfile")
	got=$(git --git-dir="$dir/$t.git" rev-parse "refs/heads/$ref")
	[ -n "$want" ] && [ "$got" = "$want" ] || die "$t: destination $ref is $got, want $want (hg $node)"
	secs "$t0" "$t1"
}

tip=$(hg -R "$dir/src" log -r tip -T '{node}')
for t in native hg; do
	echo "bench: native-transport: first sync of click, $t transport (warms the cache)" >&2
	echo "bench: native-transport: $(webhook_sync "$t" "$tip") s" >&2
done
declare -A times
for i in $(seq 1 "$iterations"); do
	echo "bench $i $(now)" >>"$dir/src/bench-native-transport.txt"
	hg -R "$dir/src" commit -q -A -m "bench: new changeset $i" -- "$dir/src/bench-native-transport.txt"
	node=$(hg -R "$dir/src" log -r . -T '{node}')
	order="native hg"
	[ $((i % 2)) = 0 ] && order="hg native"
	for t in $order; do
		s=$(webhook_sync "$t" "$node")
		times[$t]+="$s "
		echo "bench: native-transport: sync $i, $t: $s s" >&2
	done
done
nat=$(printf '%s\n' ${times[native]} | median)
ref_s=$(printf '%s\n' ${times[hg]} | median)
n=$(hg -R "$dir/src" log -r tip -T '{rev}'); n=$((n + 1))
r=$(ratio "$ref_s" "$nat")
printf '| native transport: 1 new changeset on click (%d), webhook POST → destination updated (median of %d; native %s s, hg %s s) | %s s | %s s | %s× | ≤ 0.1 s and ≥ 5× | %s |\n' \
	"$n" "$iterations" "${times[native]% }" "${times[hg]% }" "$nat" "$ref_s" "$r" "$(met "$nat <= 0.1 && $r >= 5")"

# 3. First sync of flask over HTTP, and 4. its peak memory against the conversion alone.
flask=$(restore flask)
hg_serve "$flask" "$dir/flask-hgserve.log"
fport=$hg_port
declare -A wall rss
for t in native hg; do
	echo "bench: native-transport: first sync of flask, $t transport" >&2
	measure "$dir/flask-$t.m" "$bin" mirror --quiet --transport "$t" --cache "$dir/cache-$t" -- "http://127.0.0.1:$fport/" "$dir/flask-$t.git"
	read -r "wall[$t]" "rss[$t]" _ <"$dir/flask-$t.m"
done
cmp -s <(sort "$dir"/cache-native/*/hg/.hg/git-mapfile) <(sort "$dir"/cache-hg/*/hg/.hg/git-mapfile) ||
	die "flask: the maps of the two transports differ"
lines=$(wc -l <"$dir"/cache-native/*/hg/.hg/git-mapfile)
r=$(ratio "${wall[hg]}" "${wall[native]}")
printf '| native transport: first sync of flask over HTTP, clone + convert + push (maps identical: %d lines) | %s s, %d MB peak | %s s, %d MB peak | %s× | ≥ 2× | %s |\n' \
	"$lines" "${wall[native]}" $((rss[native] / 1024)) "${wall[hg]}" $((rss[hg] / 1024)) "$r" "$(met "$r >= 2")"

echo "bench: native-transport: conversion alone of flask" >&2
hg clone -q --noupdate -- "$flask" "$dir/flask-convert"
measure "$dir/flask-convert.m" "$bin" convert --quiet -- "$dir/flask-convert"
read -r conv_s conv_kb _ <"$dir/flask-convert.m"
r=$(awk -v a="${rss[native]}" -v b="$conv_kb" 'BEGIN { printf "%.2f", a / b }')
printf '| native transport: peak memory of the first sync of flask against the conversion alone (%s s) | %d MB | %d MB (conversion) | %s× | ≤ 1.5× | %s |\n' \
	"$conv_s" $((rss[native] / 1024)) $((conv_kb / 1024)) "$r" "$(met "$r <= 1.5")"
rm -rf "$dir"
