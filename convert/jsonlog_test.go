package convert

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestJSONLogWarned: a warning (Warner) is one JSON event under
// --log-format json, and --quiet drops it as it drops Printer's WARN line.
func TestJSONLogWarned(t *testing.T) {
	var buf bytes.Buffer
	var r Reporter = &JSONLog{W: &buf}
	w, ok := r.(Warner)
	if !ok {
		t.Fatal("JSONLog is not a Warner: warnings would become text log lines")
	}
	w.Warned("a.jpg", "EXIF block broken, dropped")
	var e map[string]any
	if err := json.Unmarshal(buf.Bytes(), &e); err != nil {
		t.Fatalf("not one JSON object: %q: %v", buf.String(), err)
	}
	if e["event"] != "warning" || e["input"] != "a.jpg" || e["message"] != "EXIF block broken, dropped" || e["time"] == nil {
		t.Errorf("event %v", e)
	}
	buf.Reset()
	(&JSONLog{W: &buf, Verbosity: Quiet}).Warned("a.jpg", "x")
	if buf.Len() != 0 {
		t.Errorf("--quiet wrote %q", buf.String())
	}
}
