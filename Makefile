# The two commands a newcomer needs (README.md):
#   make demo   installs what is missing, builds bin/animegan, converts testdata/photos into ./out
#   make test   installs what is missing, runs every test under the race detector
#
# Nothing here needs more than Go, gcc and npm: ONNX Runtime's shared library
# is fetched by scripts/install-onnxruntime.sh from the npm registry.

GO       ?= go
BIN      := bin/animegan
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
# JPEGs decode already shrunk with libjpeg-turbo (Debian libjpeg62-turbo-dev,
# on Go machines by default). Without its header, build the standard library's
# decoder instead: slower, same results.
CC       ?= cc
TAGS     := $(shell printf '\#include <stdio.h>\n\#include <jpeglib.h>\n' | $(CC) -E - >/dev/null 2>&1 || echo nolibjpeg)
SOURCES  := $(shell find . -name '*.go' -not -path './lib/*') go.mod go.sum model/builtin/cartoon.onnx

.PHONY: demo test test-slurm stress bench docs build ort vet fuzz clean

demo: build
	./$(BIN) convert testdata/photos -o out

test: ort
	$(GO) vet -tags '$(TAGS)' ./...
	$(GO) test -tags '$(TAGS)' -race -count=1 -timeout 30m ./...

# deploy/slurm/convert.sbatch on a real one-node Slurm cluster the test starts
# and stops (README "Slurm: a job array"); installs Debian's slurm-wlm and munge
# when missing, so it runs as root.
test-slurm: ort
	./scripts/install-slurm.sh
	ANIMEGAN_SLURM=1 $(GO) test -tags '$(TAGS)' -count=1 -timeout 20m -run '^TestSlurmCluster$$' -v .

# The soak test at full size (2,000 images at -j 32); `make test` runs a smaller batch.
stress: ort
	ANIMEGAN_STRESS=1 $(GO) test -tags '$(TAGS)' -race -count=1 -timeout 30m -run 'TestSoak' -v ./convert

# Each fuzz target in turn, FUZZTIME each.
FUZZTIME ?= 60s
FUZZ_TARGETS := imageio:FuzzProbe imageio:FuzzDecode imageio:FuzzResize imageio:FuzzOrient \
	convert:FuzzParseJobs model:FuzzPackUnpack
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "== $$t"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) ./$${t%%:*} || exit 1; \
	done

build: ort $(BIN)

# Speed and memory against the model's own ceiling and the PyTorch loop
# (README "Performance"): prints a table; needs no network.
bench: build
	$(GO) run -tags '$(TAGS)' ./bench -binary $(BIN)

# The README's before/after picture, from the demo's output.
docs: demo
	$(GO) run scripts/beforeafter.go testdata/photos/village.jpg out/village.jpg docs/before-after.jpg

$(BIN): $(SOURCES)
	$(GO) build -tags '$(TAGS)' -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

ort:
	./scripts/install-onnxruntime.sh

clean:
	rm -rf bin out
