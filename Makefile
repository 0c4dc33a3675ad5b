# onsale: make help lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin/onsale
export PATH := $(shell $(GO) env GOPATH)/bin:$(PATH)

.DEFAULT_GOAL := help

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: ## Run the demo on the embedded default (no services needed): a crowd buys out a sample event
	$(GO) run ./cmd/onsale demo

serve: ## Serve on :8080 with whatever ONSALE_* backends are set (embedded for the rest)
	$(GO) run ./cmd/onsale serve

build: ## Build bin/onsale
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/onsale

test: ## The whole suite: start/install services, then every test under -race with services required
	scripts/test.sh

test-race: test ## Same as test (the suite always runs under the race detector)

unit: ## Quick run of the Go tests without setting anything up (service tests skip when a service is down)
	$(GO) test ./...

services: ## Check PostgreSQL, Redis and RabbitMQ; start or install what is missing
	scripts/services.sh up

bench: ## Inventory benchmarks on the real Redis: holds/s one round trip vs batched vs redis-benchmark
	scripts/services.sh up
	scripts/bench-inventory.sh

bench-http: ## HTTP benchmarks under wrk: hold and queue-status endpoints next to a bare fasthttp server (medians of rounds)
	scripts/bench-http.sh

bench-system: ## The whole benchmark suite as one table (also written to out/bench.json)
	scripts/bench.sh

lint: ## gofmt check + go vet + staticcheck + go mod tidy check + the OpenAPI document under Redocly's rules
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	@command -v staticcheck >/dev/null || $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	staticcheck ./...
	scripts/lint-openapi.sh

fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

clean: ## Remove build output
	rm -rf bin out

.PHONY: help run serve build test test-race unit services bench bench-http bench-system lint fmt clean
