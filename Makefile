# rgrpc: `make help` lists the targets. Nothing needs installing by hand: protoc comes
# from the protoc-bin-vendored crate (set PROTOC=/path/to/protoc to use another one).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := all
MAKEFLAGS += --warn-undefined-variables
MAKEFLAGS += --no-builtin-rules

CARGO ?= cargo
# The plugin as users run it: protoc finds it through --plugin.
PLUGIN := target/debug/protoc-gen-rgrpc
# protoc, from the vendored crate unless PROTOC is set; the well-known types are included.
PROTOC_RUN := $(CARGO) run -q -p rgrpc-dev --bin rgrpc-protoc --
# The Python grpcio peer of the interop matrix (pinned in interop/python/requirements.txt).
INTEROP_VENV := $(CURDIR)/target/interop-venv
# The Node.js grpc-js peer (pinned in interop/node/package-lock.json; needs node and npm).
INTEROP_NODE_DIR := $(CURDIR)/interop/node
# The buf CLI for protoc-gen-rgrpc/tests/buf.rs (pinned in tools/buf/package-lock.json).
BUF_DIR := $(CURDIR)/tools/buf
INTEROP_ENV := RGRPC_REQUIRE_INTEROP=1 INTEROP_VENV=$(INTEROP_VENV) INTEROP_NODE_DIR=$(INTEROP_NODE_DIR)

.PHONY: help
help: ## Describe the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | sort | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "%-14s %s\n", $$1, $$2}'

.PHONY: all
all: build test lint ## Build, test and lint everything

.PHONY: build
build: ## Build every crate
	$(CARGO) build --workspace --all-targets

.PHONY: plugin
plugin: ## Build the protoc plugin
	$(CARGO) build -q -p protoc-gen-rgrpc

.PHONY: gen
gen: ## Regenerate the checked-in generated code (examples/hello) from proto/, without protoc
	$(CARGO) run -q -p protoc-gen-rgrpc -- compile -I proto --out examples/hello/src/generated proto/hello.proto

.PHONY: gen-protoc
gen-protoc: plugin ## The same as gen through protoc and the plugin (same bytes)
	mkdir -p examples/hello/src/generated
	$(PROTOC_RUN) --plugin=protoc-gen-rgrpc=$(PLUGIN) \
		--rgrpc_out=examples/hello/src/generated -I proto proto/hello.proto

.PHONY: demo
demo: gen ## Generate from proto/hello.proto (no protoc), serve on 127.0.0.1, call all four kinds; then the build.rs example
	scripts/demo.sh
	$(CARGO) run -q -p hello-build

.PHONY: test
test: interop-venv interop-node buf-setup browser-setup fleet-setup ## Run every test (goldens through real protoc, compile checks, e2e over HTTP/2 and HTTP/1.1, interop with grpcio, grpc-js, connect-node, buf and a headless browser, the fleet scenarios on network namespaces with dnsmasq and nginx)
	$(INTEROP_ENV) $(FLEET_ENV) $(CARGO) test --workspace --no-fail-fast

.PHONY: test-hogs
test-hogs: ## Run make test 3 times in a row with two CPU hogs running (the flakiness check)
	scripts/test-under-hogs.sh 3

.PHONY: interop-venv
interop-venv: ## Install the pinned Python grpcio peer for the interop matrix
	bash interop/python/setup_venv.sh $(INTEROP_VENV)

.PHONY: interop-node
interop-node: ## Install the pinned Node.js grpc-js peer for the interop matrix (npm ci)
	bash interop/node/setup.sh $(INTEROP_NODE_DIR)

.PHONY: buf-setup
buf-setup: ## Install the pinned buf CLI for the buf generate test (npm ci in tools/buf)
	bash $(BUF_DIR)/setup.sh

.PHONY: browser-setup
browser-setup: ## Install Debian's chromium (apt-get, when missing) and the pinned connect-web page's npm modules for the browser test
	bash interop/browser/setup.sh

# The fleet scenarios run one at a time (each builds its own topology); RGRPC_REQUIRE_FLEET
# makes a missing dnsmasq or nginx a failure instead of a skip.
FLEET_ENV := RGRPC_REQUIRE_FLEET=1

.PHONY: fleet-setup
fleet-setup: ## Install Debian's dnsmasq, nginx and iproute2 for the fleet (apt-get, when missing; no service left running)
	bash fleet/scripts/setup.sh

.PHONY: fleet
fleet: ## Build a fleet (netns hosts, dnsmasq, 3 replicas), load it through dns:/// during a rolling restart; prints one line of counts
	@bash fleet/scripts/setup.sh >/dev/null
	@$(CARGO) build -q -p rgrpc-fleet --bins
	@$(CARGO) run -q -p rgrpc-fleet --bin fleet-demo

.PHONY: interop
interop: interop-venv interop-node ## Run the interop matrix (rgrpc, grpcio, grpc-js, both directions) and print it
	$(INTEROP_ENV) $(CARGO) test -q -p rgrpc-interop --test matrix -- --nocapture

.PHONY: interop-load
interop-load: interop-node ## Load rgrpc's interop server from grpc-js (default and 10x) and print the results
	$(INTEROP_ENV) $(CARGO) test -q -p rgrpc-interop --test load -- --nocapture

.PHONY: soak
soak: ## Soak for 45 s: all four kinds, deadlines, cancellations; 3000 streams cancelled on one connection; prints calls, leaks, peak RSS
	RGRPC_SOAK_SECS=45 RGRPC_SOAK_STREAMS=3000 $(CARGO) test -q --release -p rgrpc-tests --test soak -- --nocapture

.PHONY: golden
golden: ## Accept the current generator output as the golden files (review git diff after)
	UPDATE_GOLDEN=1 $(CARGO) test -p protoc-gen-rgrpc --test golden --test well_known

.PHONY: check-golden
check-golden: golden ## Fail if the golden files are stale
	git diff --exit-code -- fixtures/ runtime/src/standard/

# `make fuzz` explores new requests on each run (the seed is printed, and on a failure
# so is the case's own seed to replay it); FUZZ_SEED=... repeats a run.
FUZZ_CASES ?= 20000
FUZZ_SECONDS ?= 600
FUZZ_SEED ?= $(shell date +%s)

.PHONY: fuzz
fuzz: ## Fuzz the plugin: 20000 arbitrary requests (at most 10 min), release build
	RGRPC_FUZZ_CASES=$(FUZZ_CASES) RGRPC_FUZZ_SECONDS=$(FUZZ_SECONDS) RGRPC_FUZZ_SEED=$(FUZZ_SEED) \
		RGRPC_FUZZ_PROTOC_CASES=2000 \
		$(CARGO) test -q --release -p protoc-gen-rgrpc --test fuzz -- --nocapture

.PHONY: lint
lint: ## rustfmt, clippy and rustdoc, all warnings as errors
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	# rgrpc alone, without the `otel` feature the workspace's tests turn on.
	$(CARGO) clippy -p rgrpc --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --features rgrpc/otel

.PHONY: package-check
package-check: ## cargo package (verified) for rgrpc, protoc-gen-rgrpc and rgrpc-build; prints their sizes
	scripts/package-check.sh

.PHONY: ci
ci: test lint package-check demo ## What CI runs

.PHONY: bench
bench: ## Benchmarks, one side at a time: servers (vs tonic, connectrpc), clients (vs tonic), scaling, idle memory, callgrind; lifecycle; codegen; writes bench/results/latest.md (~28 min)
	bench/run.sh

.PHONY: bench-quick
bench-quick: ## A short run of every benchmark (about 2.5 minutes once set up)
	bench/run.sh --quick

.PHONY: bench-setup
bench-setup: ## Install the benchmarks' Debian tools when missing (h2load and nghttp from nghttp2-client, valgrind)
	bash bench/setup.sh

.PHONY: bench-middleware
bench-middleware: bench-setup ## What interceptors and OpenTelemetry metrics cost a unary call, from callgrind (about 5 minutes)
	bench/middleware.sh

.PHONY: bench-callgrind
bench-callgrind: bench-setup ## Instructions per unary call of each server and client, from callgrind (about 1 minute)
	bench/callgrind.sh

.PHONY: bench-protocols
bench-protocols: bench-setup ## gRPC-Web and Connect vs connectrpc's server, and the gRPC path before/after the protocol work; writes bench/results/protocols.md (~7 min)
	bench/protocols.sh fbbd591

.PHONY: bench-lifecycle
bench-lifecycle: ## Measure deadline → DEADLINE_EXCEEDED and cancel → handler-observed latencies
	$(CARGO) run -q --release -p rgrpc-bench --bin lifecycle-latency -- 500
