//go:build !(amd64.v3 || amd64.v4)

package synth

const fmaAllowed = false
