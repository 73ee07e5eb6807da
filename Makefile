# wasmbox — make demo runs the example box; make test runs every test.
GO ?= go
BIN := $(CURDIR)/bin
SHIMS := $(BIN)/shims
export WASMBOX_SHIMS := $(SHIMS)

.PHONY: all build shims inspector demo demo-python test vet cross fuzz bench conformance clean

all: build

# The Wasm stand-ins are built from source: busybox from Go (GOOS=wasip1),
# CPython from Debian's sources (minutes, the first time on a machine).
# Both builds are cached outside the repo, keyed on their inputs.
shims:
	$(GO) run ./shims/build/buildshims -o $(SHIMS)
	ln -sfn "$$(bash shims/python/package.sh | tail -n 1)" $(SHIMS)/python

# The MCP Inspector's CLI from npm, a real client of `wasmbox mcp` and of
# `serve --mcp` in the tests; installed once per machine, outside the repo.
# Without npm the MCP client tests are skipped (CI installs npm: there they
# must run).
INSPECTOR_VERSION := 2.12.0
INSPECTOR_DIR := $(HOME)/.cache/wasmbox/npm/inspector-$(INSPECTOR_VERSION)
export WASMBOX_MCP_INSPECTOR := $(INSPECTOR_DIR)/node_modules/.bin/mcp-inspector
inspector:
	@if [ ! -x "$(WASMBOX_MCP_INSPECTOR)" ] && command -v npm >/dev/null; then \
		echo "npm install @modelcontextprotocol/inspector@$(INSPECTOR_VERSION)"; \
		npm install --prefix "$(INSPECTOR_DIR)" --no-fund --no-audit --loglevel=error \
			@modelcontextprotocol/inspector@$(INSPECTOR_VERSION) >/dev/null; \
	fi

build: shims
	$(GO) build -o $(BIN)/wasmbox ./cmd/wasmbox

demo: build
	$(BIN)/wasmbox build -t hello-shell examples/hello-shell
	$(BIN)/wasmbox run hello-shell

# An agent tool in Python: a JSON task on stdin, a summary on stdout.
demo-python: build
	$(BIN)/wasmbox build -t python-agent examples/python-agent
	$(BIN)/wasmbox run -i python-agent < examples/python-agent/task.json

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt needed'; exit 1; }
	$(GO) vet -stdmethods=false ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./shims/busybox/...

# wasmbox builds for the systems its users run: Linux, macOS and Windows,
# amd64 and arm64 (go build: seconds once the build cache is warm).
CROSS := darwin/amd64 darwin/arm64 windows/amd64 windows/arm64 linux/arm64
cross:
	@for t in $(CROSS); do echo "go build ./... ($$t)"; GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) build ./... || exit 1; done

test: shims inspector vet cross
	$(GO) test -timeout 30m ./...

# A short run of each fuzz target.
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzOpen -fuzztime=30s ./fsimage
	$(GO) test -run='^$$' -fuzz=FuzzStack -fuzztime=30s ./fsimage
	$(GO) test -run='^$$' -fuzz=FuzzWalk -fuzztime=30s ./fsimage
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=30s ./convert
	$(GO) test -run='^$$' -fuzz=FuzzMemoryMinimum -fuzztime=30s ./runtime
	$(GO) test -run='^$$' -fuzz=FuzzContent -fuzztime=30s ./runtime
	$(GO) test -run='^$$' -fuzz=FuzzOverlay -fuzztime=30s ./runtime
	$(GO) test -run='^$$' -fuzz=FuzzFlatten -fuzztime=30s ./oci
	$(GO) test -run='^$$' -fuzz=FuzzLoad -fuzztime=30s ./oci
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=30s ./internal/wasmsnap
	$(GO) test -run='^$$' -fuzz=FuzzConvert -fuzztime=30s ./internal/debwheel
	$(GO) test -run='^$$' -fuzz=FuzzControl -fuzztime=30s ./internal/debwheel

# make bench BENCHFLAGS=-rows=python: the python base rows only.
bench: build
	$(GO) run ./internal/bench -wasmbox $(BIN)/wasmbox $(BENCHFLAGS)

# A slice of CPython's own test suite, run in a python box (README).
conformance: build
	$(GO) run ./internal/conformance -wasmbox $(BIN)/wasmbox

clean:
	rm -rf $(BIN)
