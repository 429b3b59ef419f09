package onnxgraph_test

import (
	"bytes"
	"testing"

	"animegan/modelgen"
	"animegan/onnxgraph"
)

// animeganv2 is the AnimeGANv2 architecture (8.6 MB, 2.1 M weights), the
// size of model the reader's start-up cost is judged on.
func animeganv2(tb testing.TB) []byte {
	tb.Helper()
	data, err := modelgen.AnimeGANv2(modelgen.NCHW, 1)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// TestReadRoundTrip: a model read lazily and written back is the same
// bytes, and its weights read the same as Inspect's.
func TestReadRoundTrip(t *testing.T) {
	data := animeganv2(t)
	lazy, err := onnxgraph.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	full, err := onnxgraph.Inspect(data)
	if err != nil {
		t.Fatal(err)
	}
	for i, tn := range lazy.Graph.Inits {
		if tn.Floats != nil {
			t.Fatalf("%s: Read decoded the weights", tn.Name)
		}
		if tn.DType != onnxgraph.Float {
			continue
		}
		got, err := tn.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		if !equalFloats(got, full.Graph.Inits[i].Floats) {
			t.Fatalf("%s: lazy and eager weights differ", tn.Name)
		}
	}
	again, err := lazy.Model().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Errorf("read and written back: %d bytes, want the %d read", len(again), len(data))
	}
}

// BenchmarkRead is the start-up cost of reading a model's graph (the
// measurement behind the package comment's choice).
func BenchmarkRead(b *testing.B) {
	data := animeganv2(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := onnxgraph.Read(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInspect decodes every weight too.
func BenchmarkInspect(b *testing.B) {
	data := animeganv2(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := onnxgraph.Inspect(data); err != nil {
			b.Fatal(err)
		}
	}
}
