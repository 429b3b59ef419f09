package convert

import (
	"bytes"
	"strings"
	"testing"
)

// TestMergeWarnings: the shards' warnings reach the merged report.
func TestMergeWarnings(t *testing.T) {
	shard := func(k int, w ...Warning) ShardSummary {
		return ShardSummary{File: "s", Summary: &Summary{Settings: Settings{Shard: Shard{k, 2}.String()}, Converted: 1, Warnings: w}}
	}
	m, err := Merge([]ShardSummary{
		shard(1, Warning{"b.jpg", "EXIF dropped: malformed EXIF: no TIFF header"}),
		shard(0, Warning{"a.jpg", "IPTC left out: WebP has no place for it"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) != 2 || m.Warnings[0].Input != "a.jpg" || m.Warnings[1].Input != "b.jpg" {
		t.Fatalf("warnings %+v", m.Warnings)
	}
	var buf bytes.Buffer
	m.WriteText(&buf)
	if !strings.Contains(buf.String(), "2 warnings") {
		t.Errorf("text:\n%s", buf.String())
	}
}
