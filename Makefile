# Synchroniser — build, run and test.
#   make run    install what is missing, build, serve on the embedded default (SQLite, 127.0.0.1:8080)
#   make test   install what is missing, start PostgreSQL, vet, run every test with -race, fuzz briefly
#   make bench  benchmarks against hg-git, written to bench/RESULTS.md

SHELL      := /bin/bash
GO         ?= go
BIN        := bin/synchroniser
VERSION    := $(shell git describe --always --dirty 2>/dev/null || echo dev)
FUZZTIME   ?= 3000x
PGURL      ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
export SYNCHRONISER_TEST_DATABASE_URL ?= $(PGURL)
# Tests that need PostgreSQL fail (rather than skip) when it is absent under `make test`.
export SYNCHRONISER_TEST_POSTGRES ?= required

.PHONY: all build run test test-go vet fuzz bench deps deps-run deps-test postgres clean

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/synchroniser

run: deps-run build
	./$(BIN) serve $(if $(CONFIG),--config $(CONFIG))

test: deps-test postgres vet test-go fuzz

vet:
	$(GO) vet ./...

test-go:
	$(GO) test -race -count=1 -timeout 25m ./...

# Every fuzz target for a short, bounded time (the corpus lives in each package's testdata/fuzz).
fuzz:
	$(GO) run ./internal/cmd/fuzzall -fuzztime $(FUZZTIME)

bench: deps-test build
	bench/run-all.sh

# deps-run: what the service needs at run time (hg, hg-git for the opt-in backend, git).
deps-run:
	@missing=""; \
	command -v hg  >/dev/null || missing="$$missing mercurial"; \
	[ -d /usr/lib/python3/dist-packages/hggit ] || missing="$$missing mercurial-git"; \
	command -v git >/dev/null || missing="$$missing git"; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; $(call apt_install,$$missing); fi

# deps-test: also Chromium for the page tests, wrk for the intake benchmark, curl for the hgweb hook
# example's test, PostgreSQL, and for the test kits (internal/hgtest) OpenSSH's sshd and hg's evolve
# and topic extensions.
deps-test: deps-run
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v pg_ctlcluster >/dev/null || missing="$$missing postgresql"; \
	[ -x /usr/bin/time ] || missing="$$missing time"; \
	[ -x /usr/sbin/sshd ] || missing="$$missing openssh-server"; \
	[ -d /usr/lib/python3/dist-packages/hgext3rd/evolve ] || missing="$$missing mercurial-evolve"; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; $(call apt_install,$$missing); fi

postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { \
	  v=$$(ls /etc/postgresql | sort -V | tail -1); \
	  pg_ctlcluster --skip-systemctl-redirect $$v main start; \
	  for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; }
	@pg_isready -h 127.0.0.1 -p 5432

clean:
	rm -rf bin

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
define apt_install
$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(1) \
  || { $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(1); }
endef
