#!/usr/bin/env bash
# Webhook intake: wrk on loopback against /hooks/github with signature checks on, 30 s at most.
# Each request carries a new X-GitHub-Delivery, so each one is verified (HMAC-SHA256), its source
# URL checked against the source policy, its mirror resolved, its destination checked (a plain Git
# destination: `git ls-remote` of a local bare repository, as web.DefaultPreflight does for every
# request) and its delivery recorded and enqueued (coalesced into one queued sync per mirror).
# `serve --no-workers`: this measures intake, not syncs.
# Prints a Markdown table row: | benchmark | synchroniser | reference | ratio | goal | met |
source "$(dirname "$0")/lib.sh"
[ -x "$bin" ] || die "build first: make build"
command -v wrk >/dev/null || die "wrk is missing (Debian package wrk)"
duration=${INTAKE_SECONDS:-20}
[ "$duration" -le 30 ] || die "INTAKE_SECONDS must be at most 30"
dir=$(mktemp -d "$work/intake.XXXXXX")
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
port=$(free_port)
git init -q --bare "$dir/dest.git"
secret=bench-secret-$RANDOM$RANDOM
cat >"$dir/config.toml" <<TOML
listen = "127.0.0.1:$port"
data_dir = "$dir/data"
[log]
level = "warn"
[source]
schemes = ["http"]
hosts = ["127.0.0.1"]   # an address, not a name: no DNS lookup per request
allow_private = true
allow_file = true       # local destination
[hooks.github]
enabled = true
secret = "$secret"
[limits]
rate_per_source = 0
[[mirror]]
name = "intake"
scm = "git"
source = "http://127.0.0.1:9/bench/intake.git"
repository = "bench/intake"
poll = "0s"
[mirror.destination]
url = "$dir/dest.git"
TOML
# Workers off: this measures intake (verify, record, enqueue), not syncs of a fake repository.
"$bin" serve --no-workers --config "$dir/config.toml" >"$dir/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
cat >"$dir/body.json" <<'JSON'
{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000","after":"1111111111111111111111111111111111111111","repository":{"id":1,"name":"intake","full_name":"bench/intake","private":false,"owner":{"login":"bench","name":"bench"},"clone_url":"http://127.0.0.1:9/bench/intake.git","html_url":"https://github.com/bench/intake"},"pusher":{"name":"bench"},"commits":[]}
JSON
sig=$(openssl dgst -sha256 -hmac "$secret" -r <"$dir/body.json" | cut -d' ' -f1)
body=$(python3 -c 'import json,sys; print(json.dumps(open(sys.argv[1]).read()))' "$dir/body.json")
cat >"$dir/hook.lua" <<LUA
local n = 0
wrk.method = "POST"
wrk.body = $body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GitHub-Event"] = "push"
wrk.headers["X-Hub-Signature-256"] = "sha256=$sig"
request = function()
  n = n + 1
  wrk.headers["X-GitHub-Delivery"] = string.format("%d-%d", math.random(1, 1e9), n)
  return wrk.format()
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.2f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(99) / 1000, summary.errors.status, summary.requests))
end
LUA
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' -H 'X-GitHub-Event: push' \
	-H "X-Hub-Signature-256: sha256=$sig" -H 'X-GitHub-Delivery: probe' --data-binary @"$dir/body.json" "http://127.0.0.1:$port/hooks/github")
[ "$code" = 202 ] || { cat "$dir/serve.log" >&2; die "probe answered $code, want 202"; }
# CPU of serve itself and of the processes it ran and waited for (utime stime cutime cstime).
cpu() { awk '{ print $14 + $15, $16 + $17 }' "/proc/$pid/stat"; }
read -r self0 kids0 < <(cpu)
res=$(wrk -t2 -c32 -d"${duration}s" -s "$dir/hook.lua" "http://127.0.0.1:$port/hooks/github" | awk '/^RESULT/ {print $2, $3, $4, $5}')
read -r rps p99 errs total <<<"$res"
read -r self1 kids1 < <(cpu)
tck=$(getconf CLK_TCK)
per() { awk -v a="$1" -v b="$2" -v t="$tck" -v n="$total" 'BEGIN { if (n > 0) printf "%.1f", (b - a) * 1000 / t / n; else print "n/a" }'; }
[ -n "${rps:-}" ] || die "wrk gave no result"
printf '| webhook intake: /hooks/github, HMAC on, wrk -t2 -c32 %s s on loopback (%s non-2xx of %s) | %s req/s, p99 %s ms; CPU per request: serve %s ms, its subprocesses (preflight `git ls-remote`) %s ms | | | ≥ 5,000 req/s, p99 < 10 ms | %s |\n' \
	"$duration" "$errs" "$total" "$rps" "$p99" "$(per "$self0" "$self1")" "$(per "$kids0" "$kids1")" "$(met "$rps >= 5000 && $p99 < 10 && $errs == 0")"
