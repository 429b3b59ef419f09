#!/usr/bin/env bash
# Installs the ONNX Runtime shared library that animegan loads at run time.
#
# ONNX Runtime is not packaged by Debian. Its official CPU build ships inside
# the npm package onnxruntime-node; `npm pack` fetches that tarball without
# running any of its install scripts, and we take only the .so out of it.
#
#   - does nothing when a usable library is already present
#     ($ONNXRUNTIME_LIB, or ./lib/libonnxruntime.so.1);
#   - otherwise verifies the tarball's sha1 (the registry's dist.shasum) and
#     extracts the library for this CPU into ./lib/ (git-ignored).
set -euo pipefail

ORT_VERSION=1.30.0
ORT_SHA1=8d4c4a75f31088ec846f08cccb62f3272a7bf44a

root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/lib"
lib_name=libonnxruntime.so.1

# A library counts as usable when it is a readable ELF shared object that
# exports OrtGetApiBase, the one symbol the Go binding looks up.
usable() {
	[ -r "$1" ] || return 1
	head -c 4 "$1" | grep -q 'ELF' || return 1
	if command -v nm >/dev/null 2>&1; then
		nm -D --defined-only "$1" 2>/dev/null | grep -Eq ' OrtGetApiBase(@|$)' || return 1
	fi
	return 0
}

if [ -n "${ONNXRUNTIME_LIB:-}" ]; then
	if usable "$ONNXRUNTIME_LIB"; then
		echo "onnxruntime: using ONNXRUNTIME_LIB=$ONNXRUNTIME_LIB"
		exit 0
	fi
	echo "onnxruntime: ONNXRUNTIME_LIB=$ONNXRUNTIME_LIB is not a usable library; installing into $dest instead" >&2
fi

if usable "$dest/$lib_name" && [ -f "$dest/.version" ] && [ "$(cat "$dest/.version")" = "$ORT_VERSION" ]; then
	echo "onnxruntime: $dest/$lib_name ($ORT_VERSION) already installed"
	exit 0
fi

case "$(uname -m)" in
x86_64 | amd64) arch=x64 ;;
aarch64 | arm64) arch=arm64 ;;
*)
	echo "onnxruntime: no prebuilt library for CPU $(uname -m) in onnxruntime-node; set ONNXRUNTIME_LIB to your own build" >&2
	exit 2
	;;
esac
if [ "$(uname -s)" != Linux ]; then
	echo "onnxruntime: this script installs the Linux library; on $(uname -s) set ONNXRUNTIME_LIB to your ONNX Runtime $ORT_VERSION library" >&2
	exit 2
fi
command -v npm >/dev/null 2>&1 || {
	echo "onnxruntime: npm is needed to fetch onnxruntime-node@$ORT_VERSION (apt-get install npm)" >&2
	exit 2
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "onnxruntime: fetching onnxruntime-node@$ORT_VERSION with npm pack"
tarball=$(cd "$work" && npm pack --silent "onnxruntime-node@$ORT_VERSION" | tail -n 1)
got=$(sha1sum "$work/$tarball" | cut -d' ' -f1)
if [ "$got" != "$ORT_SHA1" ]; then
	echo "onnxruntime: checksum mismatch for $tarball: got sha1 $got, want $ORT_SHA1" >&2
	exit 2
fi

member="package/bin/napi-v6/linux/$arch/$lib_name"
tar -xzf "$work/$tarball" -C "$work" "$member"
usable "$work/$member" || {
	echo "onnxruntime: $member from the tarball is not a usable library" >&2
	exit 2
}

mkdir -p "$dest"
# Move into place atomically so a concurrent run never sees half a library.
cp "$work/$member" "$dest/.$lib_name.tmp"
mv -f "$dest/.$lib_name.tmp" "$dest/$lib_name"
ln -sf "$lib_name" "$dest/libonnxruntime.so"
echo "$ORT_VERSION" >"$dest/.version"
echo "onnxruntime: installed $dest/$lib_name ($ORT_VERSION, linux-$arch)"
