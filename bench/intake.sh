#!/usr/bin/env bash
# Webhook intake: wrk on loopback against /hooks/github with signature checks on, 30 s at most.
# Each request carries a new X-GitHub-Delivery, so each one is verified, recorded and enqueued
# (coalesced into one queued sync per mirror). Prints requests/s and p99 latency.
source "$(dirname "$0")/lib.sh"
[ -x "$bin" ] || die "build first: make build"
command -v wrk >/dev/null || die "wrk is missing (Debian package wrk)"
duration=${INTAKE_SECONDS:-20}
dir=$(mktemp -d "$work/intake.XXXXXX")
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
secret=bench-secret-$RANDOM$RANDOM
cat >"$dir/config.toml" <<TOML
listen = "127.0.0.1:$port"
data_dir = "$dir/data"
[log]
level = "warn"
[source]
schemes = ["https"]
hosts = ["github.com"]
[hooks.github]
enabled = true
secret = "$secret"
[limits]
rate_per_source = 0
[[mirror]]
name = "intake"
scm = "git"
source = "https://github.com/bench/intake.git"
repository = "bench/intake"
poll = "0s"
[mirror.destination]
url = "https://github.com/bench/intake-mirror.git"
TOML
# Workers off: this measures intake (verify, record, enqueue), not syncs of a fake repository.
"$bin" serve --no-workers --config "$dir/config.toml" >"$dir/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
cat >"$dir/body.json" <<'JSON'
{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000","after":"1111111111111111111111111111111111111111","repository":{"id":1,"name":"intake","full_name":"bench/intake","private":false,"owner":{"login":"bench","name":"bench"},"clone_url":"https://github.com/bench/intake.git","html_url":"https://github.com/bench/intake"},"pusher":{"name":"bench"},"commits":[]}
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
res=$(wrk -t2 -c32 -d"${duration}s" -s "$dir/hook.lua" "http://127.0.0.1:$port/hooks/github" | awk '/^RESULT/ {print $2, $3, $4, $5}')
read -r rps p99 errs total <<<"$res"
printf '| webhook intake (/hooks/github, HMAC on, %ss, 32 connections) | %s req/s, p99 %s ms | %s non-2xx of %s |\n' \
	"$duration" "$rps" "$p99" "$errs" "$total"
