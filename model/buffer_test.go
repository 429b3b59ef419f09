package model

import (
	"strings"
	"testing"
)

// TestFloatBuffer: an input buffer the system cannot give is an error, not
// the Go runtime's fatal "out of memory"; one it can give is usable and
// freed once.
func TestFloatBuffer(t *testing.T) {
	// 4 PiB: more than any x86-64 or arm64 address space.
	if b, err := newFloatBuffer(1 << 50); err == nil || !strings.Contains(err.Error(), "cannot allocate") {
		if b != nil {
			b.free()
		}
		t.Fatalf("a 4 PiB buffer: %v, want an allocation error", err)
	}
	for _, n := range []int64{0, -1} {
		if _, err := newFloatBuffer(n); err == nil {
			t.Fatalf("a buffer of %d floats was made", n)
		}
	}
	b, err := newFloatBuffer(3 * 640 * 480)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.data) != 3*640*480 {
		t.Fatalf("%d floats, want %d", len(b.data), 3*640*480)
	}
	for i := range b.data {
		b.data[i] = float32(i)
	}
	if b.data[len(b.data)-1] != float32(len(b.data)-1) {
		t.Fatal("the buffer does not hold what was written")
	}
	b.free()
	b.free() // harmless
}
