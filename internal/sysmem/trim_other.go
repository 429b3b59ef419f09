//go:build !linux || !cgo

package sysmem

// ReleaseFreed does nothing where there is no glibc heap to trim.
func ReleaseFreed() {}
