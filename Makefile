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
# (\043 is '#', which make would read as a comment, or keep a backslash before.)
TAGS     := $(shell printf '\043include <stdio.h>\n\043include <jpeglib.h>\n' | $(CC) -E - >/dev/null 2>&1 || echo nolibjpeg)
# WebP output needs libwebp (Debian libwebp-dev): without its header the
# binary is built without it, and --format webp says so.
TAGS     += $(shell printf '\043include <webp/encode.h>\n' | $(CC) -E - >/dev/null 2>&1 || echo nolibwebp)
# HEIC and AVIF input need libheif (Debian libheif-dev), colour profiles
# Little CMS 2 (liblcms2-dev): without a header the binary is built without
# that feature (HEIC stays "unsupported format", profiles are ignored with
# a warning).
TAGS     += $(shell printf '\043include <libheif/heif.h>\n' | $(CC) -E - >/dev/null 2>&1 || echo nolibheif)
TAGS     += $(shell printf '\043include <lcms2.h>\n' | $(CC) -E - >/dev/null 2>&1 || echo nolcms)
SOURCES  := $(shell find . -name '*.go' -not -path './lib/*') go.mod go.sum model/builtin/cartoon.onnx

.PHONY: demo test test-slurm stress bench docs docs-fullres build ort vet fuzz clean

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

# Issue 15's target (README "Full resolution: tiles"): a 48 MP photo converts at
# --max-size 0 under --mem-budget 2GiB with a peak RSS under 3 GB. A few
# minutes with the built-in model; not under the race detector (the test
# process only synthesises the photo and reads the child's rusage).
.PHONY: test-48mp
test-48mp: ort
	ANIMEGAN_TILES48=1 $(GO) test -tags '$(TAGS)' -count=1 -timeout 30m -run '^TestTiles48MP$$' -v .

# The build without libjpeg (what `make test` builds on a machine without its
# header), tested on a machine with it too: the packages whose code differs
# (imageio's JPEG decoder and encoder) and those that run them (convert, the
# CLI tests, which build the binary with the same tags).
NOLIBJPEG_PKGS := ./imageio ./convert .
.PHONY: test-nolibjpeg
test-nolibjpeg: ort
	$(GO) vet -tags '$(sort $(TAGS) nolibjpeg)' $(NOLIBJPEG_PKGS)
	$(GO) test -tags '$(sort $(TAGS) nolibjpeg)' -race -count=1 -timeout 30m $(NOLIBJPEG_PKGS)

# The build without libwebp (no WebP output), tested on a machine with it:
# the packages whose code differs and the one that runs them. The CLI's side
# is TestBuiltWithoutLibwebp, in `make test`.
NOLIBWEBP_PKGS := ./imageio ./convert
.PHONY: test-nolibwebp
test-nolibwebp: ort
	$(GO) vet -tags '$(sort $(TAGS) nolibwebp)' $(NOLIBWEBP_PKGS)
	$(GO) test -tags '$(sort $(TAGS) nolibwebp)' -race -count=1 -timeout 30m $(NOLIBWEBP_PKGS)

# The build without libheif and lcms2 (HEIC/AVIF unsupported, colour
# profiles ignored with a warning), tested on a machine with them: the
# packages whose code differs and those that run them (convert, the CLI).
NOHEIF_PKGS := ./imageio ./convert .
.PHONY: test-noheif
test-noheif: ort
	$(GO) vet -tags '$(sort $(TAGS) nolibheif nolcms)' $(NOHEIF_PKGS)
	$(GO) test -tags '$(sort $(TAGS) nolibheif nolcms)' -race -count=1 -timeout 30m $(NOHEIF_PKGS)

# Each fuzz target in turn, FUZZTIME each.
FUZZTIME ?= 60s
FUZZ_TARGETS := imageio:FuzzProbe imageio:FuzzDecode imageio:FuzzResize imageio:FuzzOrient \
	convert:FuzzParseJobs model:FuzzPackUnpack imageio:FuzzEXIF imageio:FuzzMetadata \
	imageio:FuzzJPEGSegments tiling:FuzzNewGrid
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "== $$t"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) ./$${t%%:*} || exit 1; \
	done

build: ort $(BIN)

# Speed and memory against the model's own ceiling and the PyTorch loop
# (README "Performance"): prints a table; needs no network.
# BENCH_FLAGS passes bench's own flags (go run ./bench -h), from the make
# command line or the environment: BENCH_FLAGS='-model trained' measures
# the shared trained model, '-set shared' only the real photos.
bench: build
	$(GO) run -tags '$(TAGS)' ./bench -binary $(BIN) $(BENCH_FLAGS)

# The README's before/after picture, from the demo's output.
docs: demo
	$(GO) run scripts/beforeafter.go testdata/photos/village.jpg out/village.jpg docs/before-after.jpg

# README's full-resolution pictures: a generated 12 MP photo converted at
# --max-size 0 and at --max-size 1024 with the built-in model, one detail of
# each at the same scale (scripts/fullres.go).
docs-fullres: build
	$(GO) run -tags '$(TAGS)' scripts/fullres.go -binary $(BIN) -docs docs

$(BIN): $(SOURCES)
	$(GO) build -tags '$(TAGS)' -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

ort:
	./scripts/install-onnxruntime.sh

clean:
	rm -rf bin out
