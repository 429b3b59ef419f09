# animegan with ONNX Runtime, for the recipes in deploy/ (README "Running on many
# machines"). The build runs the same `make build` as a checkout: it fetches ONNX
# Runtime's CPU library with scripts/install-onnxruntime.sh (npm pack, sha1 checked)
# and builds bin/animegan (cgo, hence gcc, which the golang image has).
#
#   docker build -t registry.example.com/animegan:latest .
#   docker run --rm -v "$PWD/photos:/data/in:ro" -v "$PWD/anime:/data/out" \
#       registry.example.com/animegan:latest convert /data/in -o /data/out
#
# Builds for the CPU it runs on (x86-64 or arm64); use buildx --platform for the other.

ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${GO_IMAGE} AS build
# npm only fetches the onnxruntime-node tarball; nothing of it is installed.
RUN apt-get update \
	&& apt-get install -y --no-install-recommends npm \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# .dockerignore leaves out .git, so the version comes from here.
ARG VERSION=dev
RUN make build VERSION=${VERSION} \
	&& ./bin/animegan version

# The binary is linked against glibc; the library needs libstdc++, which the
# Debian image already has (apt depends on it). Same Debian release as the build.
FROM ${RUNTIME_IMAGE}
COPY --from=build /src/bin/animegan /usr/local/bin/animegan
# The binary looks for lib/libonnxruntime.so.1 beside itself: no ONNXRUNTIME_LIB needed.
COPY --from=build /src/lib/libonnxruntime.so.1 /usr/local/bin/lib/libonnxruntime.so.1
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent animegan \
	&& animegan version
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["animegan"]
CMD ["--help"]
