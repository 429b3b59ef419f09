package convert

import (
	"fmt"
	"testing"
)

// BenchmarkManifestAdd is the cost of journalling one output: open, lock,
// check, append and close the journal.
func BenchmarkManifestAdd(b *testing.B) {
	m, err := OpenManifest(b.TempDir(), Shard{})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		if err := m.Add(Record{Output: fmt.Sprintf("p%07d.png", i), Input: "in.jpg", SHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}); err != nil {
			b.Fatal(err)
		}
	}
}
