#!/usr/bin/env bash
# Native Mercurial transport (internal/hgwire) against hg, measured in the same run:
# the pull of one new changeset of click (median of ITERATIONS) and the first clone of flask,
# both from `hg serve` on 127.0.0.1. Prints Markdown table rows:
# | benchmark | native | hg | ratio | goal | met |
source "$(dirname "$0")/lib.sh"
cd "$root"
HGWIRE_BENCH=1 ITERATIONS=${ITERATIONS:-5} go test -v -count=1 -timeout 30m -run '^TestBenchNativeTransport$' ./internal/hgwire/ |
	grep '^| '
