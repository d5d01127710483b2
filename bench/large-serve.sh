#!/usr/bin/env bash
# The whole pipeline at scale (issue 15): twisted (41,920 changesets, 1,702 heads, 1,885
# bookmarks) through `synchroniser serve`, source on `hg serve`, destination a local bare
# repository. A legacy webhook POST (answered once the sync is done) runs the first sync, then one
# changeset is committed at the source and a second POST syncs it. Each run's steps (pull,
# convert, push) are read from the history (GET /api/mirrors/twisted); the one-changeset sync is
# compared with the first sync in the same run.
# TRANSPORT=native|hg sets the mirror's transport (when the build has the setting).
# Prints Markdown table rows: | benchmark | value | reference | ratio | goal | met |
source "$(dirname "$0")/lib.sh"
[ -x "$bin" ] || die "build first: make build"
dir=$work/large-serve
rm -rf "$dir"; mkdir -p "$dir"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

tw=$(twisted)
echo "bench: large-serve: cloning twisted (hard links)" >&2
hg clone -q --noupdate -- "$tw" "$dir/src"
cp "$tw/.hg/bookmarks" "$dir/src/.hg/bookmarks"
n=$(hg -R "$dir/src" log -r tip -T '{rev}'); n=$((n + 1))
heads=$(hg -R "$dir/src" log -r 'head()' -T x | wc -c)
bookmarks=$(wc -l <"$dir/src/.hg/bookmarks")

hg_serve "$dir/src" "$dir/hgserve.log"
hgport=$hg_port
git init -q --bare "$dir/dest.git"
port=$(free_port)
extra=()
[ -n "${TRANSPORT:-}" ] && extra+=("transport = \"$TRANSPORT\"")
serve_config "$dir/serve.toml" "$port" "$dir/data" "http://127.0.0.1:$hgport/" twisted "$dir/dest.git" "${extra[@]}"
"$bin" serve --config "$dir/serve.toml" >"$dir/serve.log" 2>&1 &
pids+=($!)
wait_serve "$port" "$dir/serve.log"

# sync WHAT: POSTs the webhook for the source's tip and waits for the sync; sets wall (seconds),
# steps ("pull 1.2 s, convert 3.4 s, push 5.6 s"), convert_s, outcome and error from the latest
# run in the history.
sync() {
	local node t0 t1 code run
	node=$(hg -R "$dir/src" log -r tip -T '{node}')
	echo "bench: large-serve: $1" >&2
	t0=$(now)
	code=$(legacy_post "$port" "http://127.0.0.1:$hgport" twisted "$node" "$dir/answer.json")
	t1=$(now)
	wall=$(secs "$t0" "$t1")
	run=$(curl -fsS "http://127.0.0.1:$port/api/mirrors/twisted" | jq -c '.runs[0]')
	outcome=$(jq -r '.outcome' <<<"$run")
	error=$(jq -r '.error // ""' <<<"$run" | cut -c1-300)
	steps=$(jq -r '[.steps[]? | "\(.name) \(.seconds * 1000 | round / 1000) s"] | join(", ")' <<<"$run")
	convert_s=$(jq -r '[.steps[]? | select(.name == "convert") | .seconds][0] // "n/a"' <<<"$run")
	echo "bench: large-serve: $1: HTTP $code, $wall s, $outcome; steps: ${steps:-none}${error:+; error: $error}" >&2
	if [ "$code" != 200 ]; then
		echo "bench: large-serve: answer: $(cut -c1-300 "$dir/answer.json")" >&2
	fi
}

sync "first sync of twisted ($n changesets, $heads heads, $bookmarks bookmarks)"
first_wall=$wall first_steps=$steps first_outcome=$outcome first_error=$error
refs=$(git --git-dir="$dir/dest.git" for-each-ref | wc -l)
printf '| twisted through serve (hg serve → local bare): first sync, %d changesets, %d heads, %d bookmarks → %d refs | %s s (%s)%s | | | | %s |\n' \
	"$n" "$heads" "$bookmarks" "$refs" "$first_wall" "${first_steps:-no steps}" "${first_error:+; $first_outcome: $first_error}" \
	"$([ "$first_outcome" = success ] && echo yes || echo "**no**")"

add_one "$dir/src" 1
sync "one new changeset on twisted"
printf '| twisted through serve: one new changeset | %s s (%s)%s | first sync: %s s | %s× | convert ≤ 0.05 s | %s |\n' \
	"$wall" "${steps:-no steps}" "${error:+; $outcome: $error}" "$first_wall" "$([ "$outcome" = success ] && ratio "$first_wall" "$wall" || echo n/a)" \
	"$([ "$outcome" = success ] && [ "$convert_s" != n/a ] && met "$convert_s <= 0.05" || echo "**no**")"
