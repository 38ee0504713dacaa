# chatd build, test and measurement entry points. `make help` lists them.

GO        ?= go
BIN       ?= bin
FUZZTIME  ?= 15s
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS    = -X main.version=$(VERSION) -X main.commit=$(COMMIT)
GOFILES    = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*')

.PHONY: help build run test bench bench-instr loadtest loadtest-cluster fuzz lint staticcheck clean web-build web-check web-test

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

build: ## build chatd, chat and chatbench into bin/
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

run: ## run chatd on the embedded store in ./chatd-data
	$(GO) run ./cmd/chatd

test: ## gofmt, go vet, staticcheck, go.mod tidy, darwin and windows builds, every test with the race detector, then the idle TLS and session heap bounds without it
	@unformatted="$$(gofmt -l $(GOFILES))"; if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	@$(MAKE) --no-print-directory staticcheck
	$(GO) mod tidy -diff
	GOOS=darwin GOARCH=arm64 $(GO) build ./...
	GOOS=windows GOARCH=amd64 $(GO) build ./...
	$(GO) test -race -timeout 9m ./...
	$(GO) test -run '^TestIdleConnHeap$$' ./reactor/tlslayer/ # heap bytes per idle TLS conn; the race detector changes them
	$(GO) test -run '^TestSessionHeap$$' ./service/ # heap bytes per logged-in session, likewise
	@$(MAKE) --no-print-directory web-test

bench: ## reactor vs netpoll, gnet and net, then WebSocket vs nbio and gorilla, then TLS vs nbio and crypto/tls on net; writes bench/RESULTS.md, bench/WS-RESULTS.md and bench/TLS-RESULTS.md
	bash bench/run.sh
	bash bench/ws.sh
	bash bench/tls.sh

bench-instr: ## user-space instructions per echoed message (valgrind/callgrind), reactor vs gnet and netpoll in the four echo cells; writes bench/INSTR-RESULTS.md (about 4 min)
	bash bench/instr.sh

loadtest: ## chatbench's standard suite against a fresh local chatd; writes bench/LOADTEST.md
	bash bench/loadtest.sh

loadtest-cluster: ## issue 16's scale runs: 3 chatd nodes on MariaDB and NATS (see bench/cluster.sh); figures in bench/out/cluster/results.txt
	bash bench/cluster.sh

fuzz: ## run every fuzz target for FUZZTIME each
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$target"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

lint: ## gofmt, go vet, and staticcheck when the module proxy serves it
	@test -z "$$(gofmt -l $(GOFILES))" || { gofmt -l $(GOFILES); exit 1; }
	$(GO) vet ./...
	@$(MAKE) --no-print-directory staticcheck

staticcheck:
	@if $(GO) run $(STATICCHECK) -version >/dev/null 2>&1; then \
	  echo "staticcheck ./..."; $(GO) run $(STATICCHECK) ./...; \
	else echo "staticcheck not available from the module proxy; skipped"; fi

web-build: ## rebuild the browser client into service/web/dist (Node.js is needed only for this)
	cd web && npm ci --no-audit --no-fund && npm run build

web-check: web-build ## fail when the committed client build differs from a fresh build of web/
	@if ! git diff --quiet -- service/web/dist || [ -n "$$(git status --porcelain --untracked-files=all -- service/web/dist)" ]; then \
	  git status --short -- service/web/dist; \
	  echo "service/web/dist differs from a build of web/: run make web-build and commit service/web/dist"; exit 1; fi

web-test: web-check ## client unit tests (Vitest), then end-to-end tests in headless Chromium against a fresh chatd
	cd web && npx vitest run && node e2e/run.mjs

clean: ## remove build output
	rm -rf $(BIN) bench/out
