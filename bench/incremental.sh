#!/usr/bin/env bash
# Incremental sync: one new changeset on the big repository (click + flask, about 7,920
# changesets), from the webhook POST to the destination updated, against the original approach.
#
#   synchroniser: `synchroniser serve` with one mirror: source served by `hg serve` on 127.0.0.1,
#     destination a local bare Git repository ([source] allow_file = true permits local
#     destinations). A first sync warms the cache. Then, ITERATIONS times: commit one changeset
#     in the source, POST /synchronise/?wait=1 (the legacy Bitbucket payload, answered after the
#     sync), expect 200 and check that the destination's ref (main or master) is the new commit.
#   original (the 2014 service): fresh `hg clone` from the same hg serve, `hg bookmark -r tip
#     master`, hg-git `hg push` to a Git destination holding everything but the new changeset.
#
# Prints Markdown table rows: | benchmark | synchroniser | original | ratio | goal | met |
source "$(dirname "$0")/lib.sh"
[ -x "$bin" ] || die "build first: make build"
iterations=${ITERATIONS:-5}
# INCREMENTAL_REPO replaces the big repository (to try the script on a small one).
big=${INCREMENTAL_REPO:-$(big)}
dir=$work/incremental
rm -rf "$dir"; mkdir -p "$dir"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# The source: a clone of big with a working copy where a commit lands on the destination ref:
# its bookmark "main" if it has one, else tip (no bookmark: tip is pushed as master, as the
# original service's `hg bookmark -r tip master` did).
hg clone -q --noupdate -- "$big" "$dir/src"
if hg -R "$dir/src" log -r 'bookmark(main)' -T '{rev}' >/dev/null 2>&1; then
	ref=main; hg -R "$dir/src" update -q -r main
else
	ref=master; hg -R "$dir/src" update -q -r tip
fi
hgport=$(free_port)
hg serve -R "$dir/src" -p "$hgport" --address 127.0.0.1 >"$dir/hgserve.log" 2>&1 &
pids+=($!)
git init -q --bare "$dir/dest.git"

port=$(free_port)
serve_config "$dir/config.toml" "$port" "$dir/data" "http://127.0.0.1:$hgport/" big "$dir/dest.git"
"$bin" serve --config "$dir/config.toml" >"$dir/serve.log" 2>&1 &
pids+=($!)
wait_serve "$port" "$dir/serve.log"
for _ in $(seq 1 300); do
	curl -fsS "http://127.0.0.1:$hgport/?cmd=capabilities" >/dev/null 2>&1 && break
	sleep 0.2
done

# post NODE: POST /synchronise/?wait=1; prints the HTTP status, the body goes to $dir/answer.json.
post() { legacy_post "$port" "http://127.0.0.1:$hgport" big "$1" "$dir/answer.json"; }

# mapped NODE: the git sha the synchroniser's map gives for an hg node.
mapped() { awk -v n="$1" '$2 == n { print $1 }' "$dir/data/cache/big/hg/.hg/git-mapfile"; }

echo "bench: incremental: first sync (warms the cache: clone and full conversion)" >&2
t0=$(now)
code=$(post "$(hg -R "$dir/src" log -r tip -T '{node}')")
t1=$(now)
[ "$code" = 200 ] || { cat "$dir/answer.json" "$dir/serve.log" >&2; die "first sync answered $code"; }
warm=$(secs "$t0" "$t1")
echo "bench: incremental: first sync took $warm s" >&2

times=()
for i in $(seq 1 "$iterations"); do
	if [ "$i" = "$iterations" ]; then
		# The original approach's destination: everything but the last new changeset.
		git clone -q --mirror -- "$dir/dest.git" "$dir/orig.git"
	fi
	echo "bench $i $(now)" >>"$dir/src/bench-incremental.txt"
	hg -R "$dir/src" commit -q -A -m "bench: new changeset $i" -- "$dir/src/bench-incremental.txt"
	node=$(hg -R "$dir/src" log -r . -T '{node}')
	t0=$(now)
	code=$(post "$node")
	t1=$(now)
	[ "$code" = 200 ] || { cat "$dir/answer.json" >&2; tail -20 "$dir/serve.log" >&2; die "sync $i answered $code"; }
	want=$(mapped "$node")
	got=$(git --git-dir="$dir/dest.git" rev-parse "refs/heads/$ref")
	[ -n "$want" ] && [ "$got" = "$want" ] || die "sync $i: destination $ref is $got, want $want (hg $node)"
	times+=("$(secs "$t0" "$t1")")
	echo "bench: incremental: sync $i: ${times[-1]} s ($(cat "$dir/answer.json"))" >&2
done
median=$(printf '%s\n' "${times[@]}" | median)

echo "bench: incremental: original approach (hg clone + hg-git push of the whole history)" >&2
t0=$(now)
hg clone -q --noupdate -- "http://127.0.0.1:$hgport/" "$dir/orig-clone"
hg -R "$dir/orig-clone" bookmark -r tip master
# hg push exits 1 when there is nothing to push: here there is always the new changeset.
hg -R "$dir/orig-clone" --config extensions.hggit= push -q -- "$dir/orig.git" >"$dir/orig.log" 2>&1 ||
	{ cat "$dir/orig.log" >&2; die "original approach: hg push failed"; }
t1=$(now)
orig=$(secs "$t0" "$t1")
[ "$(git --git-dir="$dir/orig.git" rev-parse "refs/heads/$ref")" = "$(git --git-dir="$dir/dest.git" rev-parse "refs/heads/$ref")" ] ||
	die "original approach: $ref differs from the synchroniser's"
r=$(ratio "$orig" "$median")
n=$(changesets "$dir/src")
printf '| incremental: 1 new changeset on %d, webhook POST → destination updated (median of %d: %s s) | %s s | %s s | %s× | ≤ 1 s and ≥ 50× | %s |\n' \
	"$n" "$iterations" "$(IFS=' '; echo "${times[*]}")" "$median" "$orig" "$r" "$(met "$median <= 1 && $r >= 50")"
printf '| first sync of the same mirror (hg clone over HTTP + full conversion + push) | %s s | | | | |\n' "$warm"
