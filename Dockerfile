# animegan with ONNX Runtime, for the recipes in deploy/ (README "Running on many
# machines", "The container image"). The build runs the same `make build` as a
# checkout: it fetches ONNX Runtime's CPU library with
# scripts/install-onnxruntime.sh (npm pack, sha1 checked) and builds bin/animegan
# (cgo, hence gcc, which the golang image has).
#
#   docker build -t registry.example.com/animegan:latest .
#   docker run --rm -v "$PWD/photos:/data/in:ro" -v "$PWD/anime:/data/out" \
#       registry.example.com/animegan:latest convert /data/in -o /data/out --json=/data/out/summary.json
#
# Builds for the CPU it runs on (x86-64 or arm64); use buildx --platform for the other.

ARG GO_IMAGE=golang:1.26-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${GO_IMAGE} AS build
# npm only fetches the onnxruntime-node tarball; nothing of it is installed.
# The headers of the optional C libraries (README "Colour profiles, HEIC and
# AVIF", "Formats and metadata"): the Makefile builds a feature out when its
# header is missing, and the golang image has none of them.
#   libjpeg62-turbo-dev  JPEG decode at 1/2-1/8 scale and encode (libjpeg-turbo)
#   libwebp-dev          --format webp
#   libheif-dev          HEIC and AVIF input
#   liblcms2-dev         ICC colour profiles converted to sRGB
RUN apt-get update \
	&& apt-get install -y --no-install-recommends npm \
		libjpeg62-turbo-dev libwebp-dev libheif-dev liblcms2-dev \
	&& rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# .dockerignore leaves out .git, so the version comes from here.
ARG VERSION=dev
# An image without one of the libraries would pass `make build` and lose the
# feature quietly; the image fails to build instead.
RUN make build VERSION=${VERSION} \
	&& ./bin/animegan version >version.txt && cat version.txt \
	&& for f in libjpeg-turbo libwebp libheif lcms2; do \
		grep -q "^features:.* $f " version.txt || { echo "bin/animegan was built without $f" >&2; exit 1; }; \
	done

# The binary is linked against glibc and the four libraries above (their
# runtime packages, which pull in libheif's decoders: libde265, libdav1d,
# libaom, libx265); ONNX Runtime needs libstdc++, which the Debian image already
# has (apt depends on it). Same Debian release as the build, so the same
# library versions.
FROM ${RUNTIME_IMAGE}
RUN apt-get update \
	&& apt-get install -y --no-install-recommends \
		libjpeg62-turbo libwebp7 libheif1 liblcms2-2 \
	&& rm -rf /var/lib/apt/lists/*
COPY --from=build /src/bin/animegan /usr/local/bin/animegan
# The binary looks for lib/libonnxruntime.so.1 beside itself: no ONNXRUNTIME_LIB needed.
COPY --from=build /src/lib/libonnxruntime.so.1 /usr/local/bin/lib/libonnxruntime.so.1
# A library missing here would stop the binary at its first start; ldd names it.
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent animegan \
	&& if ldd /usr/local/bin/animegan | grep 'not found'; then exit 1; fi \
	&& animegan version
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["animegan"]
CMD ["--help"]
