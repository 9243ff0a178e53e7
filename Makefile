# Kale — see README.md. Every target works on a fresh machine after .ci/run's installs.
GO       ?= go
BIN      := bin/kale
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 30s
BENCHOUT ?= bench.txt
PKGS     := ./...

.PHONY: build run test test-race fuzz bench lint clean assets nab compat

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

# vet + the layout rules (.ci/depcheck) + every test (integration tests start their own redis-server on free loopback ports).
test: assets
	$(GO) vet $(PKGS)
	bash .ci/depcheck
	$(GO) test -count=1 -timeout 20m $(PKGS)

test-race:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

# Runs every Fuzz* target for FUZZTIME each; fails on a target that writes a failing input
# (.ci/fuzz tells Go 1.26's fuzztime shutdown race, go.dev/issue/75804, from a real failure).
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) PKGS='$(PKGS)' bash .ci/fuzz

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

# The differential test of /render, /metrics/find and /metrics/expand against Debian's
# graphite-web and carbon-cache (apt-get install graphite-web graphite-carbon), fed the same
# datapoints over plaintext; then the recorded cases that make test replays against Kale alone.
# COMPAT_RECORD=1 rewrites webapp/testdata/graphite_compat/cases.json from graphite-web's answers.
compat:
	KALE_COMPAT_RECORD=$(COMPAT_RECORD) $(GO) test -tags compat -count=1 -v -run TestGraphiteCompat ./utils/integration/
	$(GO) test -count=1 -run TestGraphiteCompatRecorded -v ./webapp/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	bash .ci/depcheck

clean:
	rm -rf bin $(BENCHOUT) $(NABOUT) $(UI)/node_modules webapp/testdata/screenshots
	find $(VENDOR) -type f ! -name README -delete

# A local Redis Cluster for development: 3 masters + 3 replicas on 127.0.0.1:7001–7006
# (bus ports 17001–17006), state under ./tmp-cluster. Use the printed URL with --redis.
CLUSTER_DIR   ?= tmp-cluster
CLUSTER_PORTS ?= 7001 7002 7003 7004 7005 7006
redis-cluster-up:
	@command -v redis-server >/dev/null && command -v redis-cli >/dev/null || { echo "redis-server and redis-cli are needed (apt-get install redis-server)"; exit 1; }
	@for p in $(CLUSTER_PORTS); do \
		mkdir -p $(CLUSTER_DIR)/$$p; \
		if redis-cli -p $$p ping >/dev/null 2>&1; then echo "port $$p already answers; make redis-cluster-down first"; exit 1; fi; \
		redis-server --port $$p --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file nodes.conf \
			--cluster-node-timeout 3000 --save "" --appendonly no --dir $(CURDIR)/$(CLUSTER_DIR)/$$p \
			--daemonize yes --pidfile $(CURDIR)/$(CLUSTER_DIR)/$$p/redis.pid --logfile $(CURDIR)/$(CLUSTER_DIR)/$$p/redis.log || exit 1; \
	done
	@for p in $(CLUSTER_PORTS); do until redis-cli -p $$p ping >/dev/null 2>&1; do sleep 0.1; done; done
	@redis-cli --cluster create $(foreach p,$(CLUSTER_PORTS),127.0.0.1:$(p)) --cluster-replicas 1 --cluster-yes >$(CLUSTER_DIR)/create.log || { cat $(CLUSTER_DIR)/create.log; exit 1; }
	@for p in $(CLUSTER_PORTS); do until redis-cli -p $$p cluster info | grep -q cluster_state:ok; do sleep 0.1; done; done
	@echo "Redis Cluster up (3 masters, 3 replicas). Use:"
	@echo "  --redis redis+cluster://$$(echo $(foreach p,$(CLUSTER_PORTS),127.0.0.1:$(p)) | tr ' ' ',')"

redis-cluster-down:
	@for p in $(CLUSTER_PORTS); do \
		f=$(CLUSTER_DIR)/$$p/redis.pid; \
		if [ -f $$f ]; then kill $$(cat $$f) 2>/dev/null || true; fi; \
	done
	@for p in $(CLUSTER_PORTS); do while redis-cli -p $$p ping >/dev/null 2>&1; do sleep 0.1; done; done
	rm -rf $(CLUSTER_DIR)
	@echo "Redis Cluster stopped."
.PHONY: redis-cluster-up redis-cluster-down
