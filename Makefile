# Bulwark build and test entry points. `make test` is the one command that
# runs every test; .ci/run calls it after installing what the tests need.

GO ?= go
FUZZTIME ?= 2000x

.PHONY: build run test interop-deps unit fuzz vet bench

build:
	$(GO) build -o bin/bulwark ./cmd/bulwark

run:
	$(GO) run ./cmd/bulwark serve --dev

# Every test: vet, unit + end-to-end tests (including the openid-client
# interop test) with the race detector, then each fuzz target for a short
# time.
test: interop-deps vet unit fuzz

# The pinned npm packages of the interop test (interop/package-lock.json).
interop-deps:
	@test -f interop/node_modules/undici/package.json -a -f interop/node_modules/oidc-provider/package.json || npm ci --prefix interop --no-audit --no-fund

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

unit:
	$(GO) test -race -count=1 -timeout 15m ./...

fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./bench/... ./internal/...
