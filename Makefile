# edgeward build, test and release targets. Run `make help` for the list.
SHELL := /bin/bash
GO ?= go
PKG := github.com/edgeward/edgeward
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X $(PKG)/agent.Version=$(VERSION)
TARGETS := linux/amd64 linux/arm64 linux/arm windows/amd64
FUZZTIME ?= 10s
CONFIG ?= configs/local.yaml

.PHONY: help build cross package test test-windows test-short soak bench fuzz footprint run lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

build: ## build bin/edgeward for this machine
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/edgeward ./agent/cmd/edgeward

cross: ## build the four release targets into dist/ with checksums
	@mkdir -p dist
	@set -e; for t in $(TARGETS); do \
		os=$${t%/*}; arch=$${t#*/}; ext=; [ $$os = windows ] && ext=.exe; \
		out=dist/edgeward-$(VERSION)-$$os-$$arch$$ext; \
		echo "build $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$out ./agent/cmd/edgeward; \
	done
	cd dist && sha256sum edgeward-$(VERSION)-* > SHA256SUMS-$(VERSION)

NFPM ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

package: cross ## build .deb and .rpm packages of the three Linux targets into dist/
	@set -e; for a in amd64:amd64 arm64:arm64 arm:arm7; do \
		goarch=$${a%%:*}; pkgarch=$${a#*:}; \
		mkdir -p dist/pkg; cp dist/edgeward-$(VERSION)-linux-$$goarch dist/pkg/edgeward; \
		for fmt in deb rpm; do \
			ARCH=$$pkgarch VERSION=$(VERSION) GOFLAGS= $(NFPM) package --config scripts/nfpm.yaml --packager $$fmt --target dist/; \
		done; \
	done
	cd dist && sha256sum edgeward-$(VERSION)-* *.deb *.rpm > SHA256SUMS-$(VERSION)

test: ## run every test with the race detector (needs mosquitto and gcc; .ci/run installs them)
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 45m ./...

soak: ## the fault soak (<= 30 min): kills, link flaps, outages, caps, corruption, disk full, flow storm; prints the results table
	EDGEWARD_SOAK=1 EDGEWARD_SOAK_REPORT=$(CURDIR)/soak-report.txt $(GO) test -count=1 -timeout 35m -run '^TestSoak$$' -v ./agent/ 2>&1 \
		| grep --line-buffered -vE '^=== (RUN|PAUSE|CONT)'; test $${PIPESTATUS[0]} -eq 0

test-windows: ## the Windows lane: every test built for windows/amd64 run under Wine, plus edgeward.exe end-to-end (needs ../shared/tools/wine-go)
	GO=$(GO) scripts/test-windows.sh

test-short: ## the quick tests only
	$(GO) test -short -count=1 ./...

bench: ## run the benchmarks
	$(GO) test -run '^$$' -bench . -benchmem -count=1 -timeout 30m ./...

fuzz: ## run each fuzz target for FUZZTIME (default 10s)
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh

footprint: ## stripped sizes of the four targets (<= 15 MiB), then an idle run of FOOTPRINT_SECONDS (default 600): mean and peak RSS <= 20 MiB, CPU <= 1%
	GO=$(GO) VERSION=$(VERSION) scripts/footprint.sh

run: build ## run the agent with the local config (buffers into ./var, uplinks to a broker only if one is configured)
	@mkdir -p var
	./bin/edgeward run -c $(CONFIG)

lint: ## gofmt and go vet on all four targets
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	@set -e; for t in $(TARGETS); do \
		echo "vet $$t"; CGO_ENABLED=0 GOOS=$${t%/*} GOARCH=$${t#*/} GOARM=7 $(GO) vet ./...; \
	done

clean: ## remove build outputs
	rm -rf bin dist var
