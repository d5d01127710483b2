#!/usr/bin/env bash
# Soak: liveness under load (issue 11). 100 mirrors on `hg serve` sources, 10,000 webhooks over
# 5 minutes on loopback (plus a commit and its webhook every 0.5 s to a random source), the worker
# process killed with SIGKILL and started again twice during it; `serve --no-workers` takes the
# webhooks, one `synchroniser worker` syncs (SQLite; SOAK_DATABASE=postgres://... for PostgreSQL).
# Reports pushes lost (every source head must reach its destination), the longest a push waited
# for its sync (goal: 60 s, kills included), peak memory and open fds of each process (goal: flat),
# and the intake latency p99. Not part of `make test`; not in `make bench` (it takes 5+ minutes).
#
# Usage: bench/soak.sh [flags of bench/soak: -mirrors N -hooks N -duration D -kills N ...]
#   e.g. a short run: bench/soak.sh -mirrors 20 -hooks 2000 -duration 1m
# Prints a Markdown table.
source "$(dirname "$0")/lib.sh"
[ -x "$bin" ] || die "build first: make build"
db=()
[ -n "${SOAK_DATABASE:-}" ] && db=(-database "$SOAK_DATABASE")
cd "$root"
exec go run ./bench/soak -bin "$bin" "${db[@]}" "$@"
