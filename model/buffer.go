package model

import (
	"fmt"
	"syscall"
	"unsafe"
)

// floatBuffer is memory for one input tensor, mapped straight from the
// kernel rather than taken from the Go heap. An input is 12 bytes per
// model pixel (288 MB for 6000x4000), the largest buffer on the Go side of
// an inference, and Go's runtime cannot return an allocation failure: under
// an address-space cap (ulimit -v) it would end the process with "fatal
// error: out of memory". A failed mmap is an error for that image instead.
// Unmapping also gives the memory back at once, where a Go slice would stay
// in the heap until the collector and the scavenger return it.
type floatBuffer struct {
	mem  []byte
	data []float32
}

func newFloatBuffer(n int64) (*floatBuffer, error) {
	const size = int64(unsafe.Sizeof(float32(0)))
	if n <= 0 || n > (1<<62)/size {
		return nil, fmt.Errorf("cannot allocate %d floats", n)
	}
	mem, err := syscall.Mmap(-1, 0, int(n*size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, fmt.Errorf("cannot allocate %s for it: %w", byteCount(n*size), err)
	}
	return &floatBuffer{mem: mem, data: unsafe.Slice((*float32)(unsafe.Pointer(&mem[0])), n)}, nil
}

// free unmaps the buffer; nothing may use it afterwards (destroy the
// tensor over it first).
func (b *floatBuffer) free() {
	if b.mem != nil {
		syscall.Munmap(b.mem)
		b.mem, b.data = nil, nil
	}
}

func byteCount(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
