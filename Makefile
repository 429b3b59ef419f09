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
SOURCES  := $(shell find . -name '*.go' -not -path './lib/*') go.mod go.sum model/builtin/cartoon.onnx

.PHONY: demo test build ort vet fuzz clean

demo: build
	./$(BIN) convert testdata/photos -o out

test: ort
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

build: ort $(BIN)

$(BIN): $(SOURCES)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

ort:
	./scripts/install-onnxruntime.sh

clean:
	rm -rf bin out
