# Kale — see README.md. Every target works on a fresh machine after .ci/run's installs.
GO       ?= go
BIN      := bin/kale
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 30s
BENCHOUT ?= bench.txt
PKGS     := ./...

.PHONY: build run test test-race fuzz bench lint clean assets nab

# Front-end libraries of the web UI (uPlot) come from the npm registry at build time, pinned by
# webapp/ui/package-lock.json, and are copied into the embedded, git-ignored
# webapp/static/vendor/. Without npm the UI is built without interactive charts (and says so);
# in CI (CI=true) a missing npm is an error.
UI     := webapp/ui
VENDOR := webapp/static/vendor
assets:
	@if [ -s $(VENDOR)/uPlot.iife.min.js ] && [ -s $(VENDOR)/uPlot.min.css ] && \
	   [ $(VENDOR)/uPlot.iife.min.js -nt $(UI)/package-lock.json ]; then exit 0; fi; \
	if ! command -v npm >/dev/null 2>&1; then \
	  echo "assets: npm not found: the web UI is built without charts (install Node.js and npm, then run make assets)"; \
	  if [ "$$CI" = true ]; then exit 1; fi; exit 0; \
	fi; \
	set -e; cd $(UI) && npm ci --no-audit --no-fund --loglevel=error && \
	cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css ../static/vendor/ && \
	echo "assets: uPlot $$(node -p 'require("./node_modules/uplot/package.json").version' 2>/dev/null) copied into $(VENDOR)"

build: assets
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./utils/cmd/kale

# The whole service on the embedded, in-memory Redis, loaded with the demo data set.
run: build
	$(BIN) all --seed

# vet + every test (integration tests start their own redis-server on free loopback ports).
test: assets
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

# The kale detector over the public NAB half, scored by the stdlib-only NAB scorer.
NABDATA ?= ../shared/nab/data
NABOUT  ?= nab-results
nab: build
	rm -rf $(NABOUT)
	$(BIN) detect --detector kale --out $(NABOUT)/kale $(NABDATA)
	python3 $(dir $(NABDATA))../tools/nabscore.py $(NABOUT)/kale

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	bash .ci/depcheck

clean:
	rm -rf bin $(BENCHOUT) $(NABOUT) $(UI)/node_modules webapp/testdata/screenshots
	find $(VENDOR) -type f ! -name README -delete
