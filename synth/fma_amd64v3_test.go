//go:build amd64.v3 || amd64.v4

package synth

// With GOAMD64=v3 or later the compiler may fuse multiply-adds (FMA).
const fmaAllowed = true
