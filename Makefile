# nixctl's everyday commands. `make demo` and `make test` are the two a new
# user needs (see README).
GO       ?= go
# Tools installed with `go install` (the sops CLI) are found too.
export PATH := $(shell $(GO) env GOPATH 2>/dev/null)/bin:$(PATH)
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/nixctl/nixctl/internal/cli.Version=$(VERSION)
BIN      := bin/nixctl

# Fuzz targets as package:Target. `make test` runs each briefly
# (FUZZTIME_SMOKE); `make fuzz` longer (FUZZTIME).
FUZZ_TARGETS := \
	./internal/inventory:FuzzParse \
	./internal/inventory:FuzzSelect \
	./internal/nix:FuzzParseErrors \
	./internal/secrets:FuzzSSHToAge \
	./internal/secrets:FuzzSopsConfigEdit
# A count, not a duration: a duration that ends while the fuzzer minimizes an
# input fails with "context deadline exceeded" (a known go test -fuzz quirk).
FUZZTIME_SMOKE ?= 4000x
FUZZTIME       ?= 60s

.PHONY: all build setup test lint vet fmt-check tidy-check staticcheck golangci-lint shellcheck demo bench fuzz fuzz-smoke clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/nixctl

# Every linter (make lint), then every test, including those that run real
# nix, sshd, age, sops, then each fuzz target briefly. Each top-level test's
# PASS/SKIP line is shown (so a log proves the real-part tests ran); a failure
# prints its whole output.
test: setup lint
	@log=$$(mktemp -t nixctl-test.XXXXXX); \
	echo "$(GO) test -count=1 -timeout 30m -v ./...  (full log: $$log)"; \
	$(GO) test -count=1 -timeout 30m -v ./... >$$log 2>&1; rc=$$?; \
	grep -E '^(--- |ok |FAIL|panic:)' $$log; \
	if [ $$rc -ne 0 ]; then echo; echo "== failures =="; grep -E -A40 '^\s*--- FAIL|^panic:|\[build failed\]|^# ' $$log; fi; \
	exit $$rc
	@$(MAKE) --no-print-directory fuzz-smoke

fuzz-smoke:
	@log=$$(mktemp -t nixctl-fuzz.XXXXXX); \
	for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "fuzz $$name ($$pkg) for $(FUZZTIME_SMOKE)"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME_SMOKE) $$pkg >$$log 2>&1 \
	    || { cat $$log; exit 1; }; \
	done

fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "fuzz $$name ($$pkg) for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

# Install the real parts (nix, sshd, age, sops) when run as root with apt-get;
# otherwise say what is missing. Quick when everything is there.
setup:
	@bash .ci/setup

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

tidy-check:
	@bak=$$(mktemp -d -t nixctl-tidy.XXXXXX); cp go.mod go.sum $$bak/; \
	$(GO) mod tidy; \
	if ! git diff --quiet -- go.mod go.sum; then echo "go mod tidy changes go.mod/go.sum"; \
	  cp $$bak/go.mod $$bak/go.sum .; exit 1; fi

# The scripts nixctl runs on hosts (internal/hostops/scripts) are POSIX sh;
# the CI set-up scripts are bash.
shellcheck:
	@command -v shellcheck >/dev/null || { echo "shellcheck is not installed: run 'sudo bash .ci/setup'"; exit 1; }
	shellcheck -s sh $$(git ls-files 'internal/*.sh' 2>/dev/null || find internal -name '*.sh')
	shellcheck -s bash .ci/run .ci/setup

# Every linter, each with zero findings (exceptions are justified in
# .golangci.yml); make test runs it first. staticcheck and golangci-lint are
# pinned in .ci/setup, which builds them into GOPATH/bin (first on PATH here).
lint: vet fmt-check tidy-check staticcheck golangci-lint shellcheck

staticcheck:
	@command -v staticcheck >/dev/null || { echo "staticcheck is not installed: run 'bash .ci/setup'"; exit 1; }
	staticcheck ./...

golangci-lint:
	@command -v golangci-lint >/dev/null || { echo "golangci-lint is not installed: run 'bash .ci/setup'"; exit 1; }
	golangci-lint run ./...

# Build nixctl and run it on the embedded offline demo fleet (nix/demo).
# The demo runs in a fresh copy outside the repository (inside it, nix would
# see only the files git tracks); set DEMO_DIR to choose where.
demo: setup build
	@dir=$${DEMO_DIR:-$$(mktemp -d -t nixctl-demo.XXXXXX)}; \
	mkdir -p "$$dir" && cp -r nix/demo/. "$$dir/" && echo "demo fleet copied to $$dir" >&2 && \
	DEMO_DIR="$$dir" NIXCTL=$(CURDIR)/$(BIN) sh nix/demo/run.sh

# Go benchmarks beside the code, then the table of side-by-side ratios
# (nixctl against the baseline each line names, measured in the same run).
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./internal/benchreport

clean:
	rm -rf bin
