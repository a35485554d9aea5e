# Runrig relay. `make run` starts a relay on the embedded store in ./data;
# `make test` runs every test; `make bench` measures signed fan-out,
# discovery and DFC bridges.
GO ?= go

.PHONY: run demo build test test-nocgo interop interop-note browser-note postgres-note fuzz vet fmt-check bench simulate clean

# Built, then run (not `go run`, which exits 1 when Ctrl-C stops the relay
# cleanly).
run: build
	./bin/runrig serve

# The release and commit the binary reports everywhere (runrig version,
# NodeInfo, runrig_build_info); unstamped builds take the commit Go records.
VERSION ?= 0.1.0
COMMIT ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
LDFLAGS = -X github.com/runrig/runrig/relay.stampedVersion=$(VERSION) -X github.com/runrig/runrig/relay.stampedCommit=$(COMMIT)

# A relay and simulated platforms on loopback, relaying until Ctrl-C.
demo: build
	./bin/runrig demo

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/runrig ./cmd/runrig

# Packages run one at a time (-p 1): the end-to-end and gossip tests each
# load both cores under the race detector, and running them side by side
# only makes their waits race the clock.
test: fmt-check vet interop-note browser-note postgres-note
	$(GO) test -race -count=1 -p 1 -timeout 30m ./...

# The packages whose behaviour depends on cgo (RSA signing through
# OpenSSL or crypto/rsa), tested again as a pure-Go build, and the binary
# built without cgo: a relay built with CGO_ENABLED=0 signs with Go.
test-nocgo:
	CGO_ENABLED=0 $(GO) test -count=1 ./relay/rsasign ./relay/httpsig ./relay/delivery ./relay/schemes
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/runrig

# One line when the interop tests will skip (go test shows skips only with -v).
interop-note:
	@if [ "$$RUNRIG_INTEROP" = off ]; then \
		echo "interop tests skip: RUNRIG_INTEROP=off"; \
	elif [ -z "$$RUNRIG_INTEROP" ] && [ ! -e ../shared/interop/gotosocial/gts ]; then \
		echo "interop tests skip: no real GoToSocial in ../shared/interop (or RUNRIG_INTEROP=DIR); see docs/interop.md, then make interop"; \
	fi

# One line when the PostgreSQL store and replica tests will skip.
postgres-note:
	@if [ -z "$$RUNRIG_TEST_POSTGRES" ]; then \
		echo "PostgreSQL tests skip: RUNRIG_TEST_POSTGRES is not set (eval \"\$$(deploy/postgres/test-cluster.sh start)\" starts a throwaway server)"; \
	fi

# One line when the moderator console's browser tests will skip.
browser-note:
	@if [ "$$RUNRIG_BROWSER" = off ]; then \
		echo "browser tests skip: RUNRIG_BROWSER=off"; \
	elif [ -z "$$RUNRIG_CHROMIUM" ] && ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then \
		echo "browser tests skip: no Chromium (apt-get install chromium, or RUNRIG_CHROMIUM=PATH)"; \
	fi

# Only the interop tests: two real GoToSocial instances (from
# ../shared/interop, or RUNRIG_INTEROP=DIR) subscribe to the real relay
# binary. They need root (port 80 on 127.0.20.x) and curl; `make test`
# runs them too where ../shared/interop is, and says in one line when they
# skip (RUNRIG_INTEROP=off skips them).
interop:
	$(GO) test -race -count=1 -run Interop -v ./cmd/runrig/

# Every parser a peer reaches, fuzzed for FUZZTIME each (CI: 15s). A crash
# is kept by go test in the package's testdata/fuzz and replayed by every
# `make test` from then on.
FUZZTIME ?= 15s
FUZZ_TARGETS = ./relay/inbox:FuzzParseInbound ./relay/httpsig:FuzzParseParams ./relay/httpsig:FuzzCheck ./relay/httpsig:FuzzCheckRFC9421 \
	./relay/proof:FuzzVerify \
	./relay/listing:FuzzCheck ./relay/fetch:FuzzActorAndKeyDocuments ./relay/fetch:FuzzNodeInfo \
	./discovery:FuzzParse ./discovery:FuzzOpenEnvelope ./policy:FuzzParsePeer ./policy:FuzzParseList
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; echo "fuzz $$name in $$pkg for $(FUZZTIME)"; \
		if out=$$($(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) "$$pkg" 2>&1); then \
			echo "$$out" | tail -1; continue; \
		fi; \
		echo "$$out"; \
		case "$$out" in \
		*"Failing input written"*|*panic*) exit 1;; \
		*"context deadline exceeded"*) echo "(go's fuzzer ran out of time stopping a worker: no finding)";; \
		*) exit 1;; \
		esac; \
	done

vet:
	$(GO) vet ./...

fmt-check:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Fan-out to 20, 500 and 10,000 loopback subscribers through the real
# binary (and to 500 that take Ed25519), with the machine's raw signing
# rates (Go's and OpenSSL's RSA-2048, Ed25519) measured in the same run;
# the cost of validating a listing against one signed delivery; the two
# RSA backends side by side; then discovery: 50 DHT nodes (new records
# found by lookups, p50/p99; heap per node) and 50 gossip nodes (time
# until all know a new member), each against its target.
# With RUNRIG_TEST_POSTGRES set (deploy/postgres/test-cluster.sh), also
# the store's claims/s, SQLite against PostgreSQL, and deliveries/s by 1, 2
# and 3 replicas on one PostgreSQL database against one relay on SQLite
# (both skip without a PostgreSQL server; see docs/scaling.md).
# RUNRIG_BENCH_CPUPROFILE=FILE writes a CPU profile of the relay during a
# fan-out, for RUNRIG_BENCH_CPUPROFILE_SECONDS (default 2).
bench:
	$(GO) test -run '^$$' -bench 'Fanout|ListingValidation' -benchtime 1x -timeout 30m ./cmd/runrig/
	$(GO) test -run '^$$' -bench 'Rate' -benchtime 1x ./relay/rsasign/
	$(GO) test -run '^$$' -bench 'Sign' -benchtime 2s ./relay/httpsig/
	$(GO) test -run '^$$' -bench 'DHTLookup' -benchtime 1x -timeout 30m ./discovery/
	$(GO) test -run '^$$' -bench 'GossipConvergence' -benchtime 1x -timeout 30m ./discovery/
	$(GO) test -run '^$$' -bench 'Read' -benchtime 10x ./relay/dfc/
	$(GO) test -run '^$$' -bench 'BridgeSync' -benchtime 1x ./relay/
	$(GO) test -run '^$$' -bench 'Claims' -benchtime 1x ./relay/store/postgres/
	$(GO) test -run '^$$' -bench 'Replicas' -benchtime 1x -timeout 30m ./cmd/runrig/

clean:
	rm -rf bin

# `make simulate` (not part of `make test`, which runs it at 4 and 8 nodes)
# runs discovery networks of 25-300 DHT nodes and 25-200 gossip members on
# this machine and writes docs/simulation/ (figures, fits, plots); about
# 9 minutes on 2 cores. SIMULATE_FLAGS overrides sizes, window and output;
# -churn and -partition sizes (e.g. '-dht "" -gossip "" -churn 50,100
# -partition 50,100', about 10 minutes) let relays leave and join and cut
# regions in two, and write churn.csv.
SIMULATE_FLAGS ?=
simulate:
	$(GO) run ./cmd/runrig-simulate $(SIMULATE_FLAGS)
