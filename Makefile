# lcft-operator: build, generate, test.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

# Tool versions (pinned; installed into bin/ from the Go module proxy).
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.2
HELM_VERSION ?= v3.22.0

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)
GO_TEST_FLAGS ?=

# The images, the cluster's binaries and the tests compile with the same
# settings (no cgo, -trimpath), so a package compiled for `go vet`/`go test`
# is reused by `make images`/`make demo` from the Go build cache, not compiled
# again for different flags. (The trainer is pure Go; nothing here needs cgo.)
export CGO_ENABLED := 0
export GOFLAGS := $(strip $(filter-out -trimpath,$(GOFLAGS)) -trimpath)
FUZZTIME ?= 10000x

.PHONY: all
all: build

##@ Development

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC from the Go markers.
	$(CONTROLLER_GEN) rbac:roleName=lcft-operator-manager crd paths=./api/... paths=./controllers/... \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	hack/chart-crds.sh sync

.PHONY: verify-generated
verify-generated: generate manifests ## Fail when generated files are stale.
	@if [ -n "$$(git status --porcelain -- api config charts/lcft-operator/crds charts/lcft-operator/files)" ]; then \
		echo "generated files are stale; run 'make generate manifests' and commit:"; \
		git status --porcelain -- api config charts/lcft-operator/crds charts/lcft-operator/files; git diff --stat -- api config charts; exit 1; fi

.PHONY: fmt
fmt: ## gofmt the tree.
	gofmt -l -w $$(git ls-files '*.go')

.PHONY: vet
vet: bin-module ## go vet.
	go vet ./...

##@ Test

.PHONY: envtest-assets
envtest-assets: ## Build kube-apiserver and etcd from source into bin/k8s/<version> (the local cluster's own: hack/cluster/k8s).
	hack/envtest-assets.sh >/dev/null

# What `make test` needs before the tests: kube-apiserver and etcd, helm, and go
# vet (whose compiles the tests reuse). They share no compiled package, so on
# a cold machine they build at the same time and the cores stay busy while a
# linker or one long compile runs.
.PHONY: test-prereqs
test-prereqs: bin-module
	$(MAKE) --no-print-directory -j3 envtest-assets $(HELM) vet

.PHONY: test
test: test-prereqs ## Run every test (unit, gradient checks, envtest, Helm chart).
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh)" HELM="$(HELM)" \
		go test $(GO_TEST_FLAGS) ./... 2>&1 | tee $(LOCALBIN)/test.log

.PHONY: fuzz
fuzz: bin-module ## Run every Go fuzz target (FuzzXxx) for FUZZTIME each (default 10000x: a count of executions, never a duration; see hack/fuzz.sh); seeds in testdata/fuzz.
	FUZZTIME=$(FUZZTIME) hack/fuzz.sh

.PHONY: verify-chart
verify-chart: ## Fail when the chart's CRD/RBAC copies differ from config/.
	hack/chart-crds.sh check

.PHONY: quality
quality: ## Regenerate hack/quality/ (quality tables, experiment JSONs, pictures, Hard against Auto over 3 seeds) on MovieLens-small and synthetic data (123 s at load average 5, about 1000 s at load 17 to 32, on 2 shared cores).
	hack/quality.sh

.PHONY: bench
bench: ## Trainer throughput as ratios against a peer in the same run (hack/bench.sh).
	hack/bench.sh

.PHONY: bench-peer
bench-peer: ## The trainer against PyTorch+OpenBLAS on one core, interleaved, and on 1 vs 2 cores (installs python3-torch; hack/bench-peer.sh).
	hack/bench-peer.sh

.PHONY: bench-kernels
bench-kernels: ## Per-user fine-tuning and training steps, SIMD kernels vs pure Go, interleaved, CPU time (hack/bench-kernels.sh).
	hack/bench-kernels.sh

.PHONY: bench-controller
bench-controller: bin-module envtest-assets ## The operator at 1,000 and 5,000 cohorts on envtest against a plain client's ceiling: time until every Job exists, create-to-Job p50/p99, manager RSS and CPU.
	hack/bench-controller.sh

##@ Build

.PHONY: build
build: ## Build the manager, the trainer and the kubectl plugin (bin/kubectl-lcft: put bin/ on PATH for `kubectl lcft`).
	go build -o $(LOCALBIN)/manager .
	go build -o $(LOCALBIN)/lcft-trainer ./trainer/cmd/lcft-trainer
	go build -o $(LOCALBIN)/kubectl-lcft ./cmd/kubectl-lcft

.PHONY: build-arm64
build-arm64: ## Cross-compile the manager, the trainer and the kubectl plugin for linux/arm64.
	GOOS=linux GOARCH=arm64 go build -o $(LOCALBIN)/linux-arm64/manager .
	GOOS=linux GOARCH=arm64 go build -o $(LOCALBIN)/linux-arm64/lcft-trainer ./trainer/cmd/lcft-trainer
	GOOS=linux GOARCH=arm64 go build -o $(LOCALBIN)/linux-arm64/kubectl-lcft ./cmd/kubectl-lcft

##@ Images, local cluster, e2e

.PHONY: images
images: ## Manager and trainer images (linux/amd64+arm64, no Docker) into bin/images/.
	hack/imagebuild/images.sh manager trainer

.PHONY: demo
demo: bin-module ## Local cluster from source + images + helm install + samples; prints the Cloud/Local/LCFT table (root).
	hack/demo.sh

.PHONY: demo-down
demo-down: ## Stop the demo cluster and remove its state.
	hack/demo-down.sh

.PHONY: e2e
e2e: bin-module ## The demo flow with assertions on a fresh local cluster (root).
	hack/e2e.sh

.PHONY: weed
weed: | $(LOCALBIN) ## Build SeaweedFS's weed (the local cluster's S3 store) into bin/weed-<version> (cached, also in ~/.cache/lcft-operator).
	hack/seaweedfs/build.sh >/dev/null

.PHONY: test-s3
test-s3: bin-module ## The trainer's storage and CLI against a real SeaweedFS S3 gateway on 127.0.0.1 (no cluster).
	hack/seaweedfs/test.sh

.PHONY: bench-scale
bench-scale: bin-module ## MovieLens-20M-sized synthetic data through S3: pretraining and 3 cohorts x 8 shards on the local cluster; time, memory, bytes read per pod (root; 977 s measured on the 2-core development machine, demo cluster included).
	hack/bench-scale.sh

.PHONY: test-arm64
test-arm64: ## Trainer unit tests as linux/arm64 binaries under qemu-user-static.
	hack/qemu-arm64-test.sh

##@ Tools

# bin/ holds caches (tools, built binaries, images): a go.mod of
# its own keeps `go test ./...` and `go vet ./...` out of it.
$(LOCALBIN):
	mkdir -p $(LOCALBIN)

.PHONY: bin-module
bin-module: | $(LOCALBIN)
	@test -f $(LOCALBIN)/go.mod || printf 'module ignored/bin\n' > $(LOCALBIN)/go.mod

$(CONTROLLER_GEN): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $@

$(KUSTOMIZE): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(LOCALBIN)/kustomize $@

.PHONY: helm
helm: $(HELM) ## Build helm into bin/ from the Go module proxy.

$(HELM): | $(LOCALBIN)
	hack/helm/install.sh $(HELM_VERSION) $@

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Install kustomize into bin/.

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)
