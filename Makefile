# Kale — see README.md. Every target works on a fresh machine after .ci/run's installs.
GO       ?= go
BIN      := bin/kale
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 30s
BENCHOUT ?= bench.txt
PKGS     := ./...

.PHONY: build run test test-race fuzz bench lint clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./utils/cmd/kale

# The whole service on the embedded, in-memory Redis, loaded with the demo data set.
run: build
	$(BIN) all --seed

# vet + every test (integration tests start their own redis-server on free loopback ports).
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 20m $(PKGS)

test-race:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

# Runs every Fuzz* target for FUZZTIME each (go test allows one fuzz target per run).
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# Benchmarks of every hot path; compare runs with benchstat (go run golang.org/x/perf/cmd/benchstat).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 $(PKGS) | tee $(BENCHOUT)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	bash .ci/depcheck

clean:
	rm -rf bin $(BENCHOUT)
