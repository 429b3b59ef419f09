package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestAbandon: the temporary file of a Write in progress is deleted by
// Abandon, the Write then fails without touching its destination, and later
// Writes are refused.
func TestAbandon(t *testing.T) {
	saved := live
	live = &registry{files: make(map[string]struct{})}
	defer func() { live = saved }()

	dir := t.TempDir()
	path := filepath.Join(dir, "out.png")
	if err := os.WriteFile(path, []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	filling := make(chan struct{})
	resume := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Write(path, 0o644, func(w io.Writer) error {
			w.Write([]byte("half of a new file"))
			close(filling)
			<-resume
			_, err := w.Write([]byte(" and the rest"))
			return err
		})
	}()
	<-filling
	if n := Live(); n != 1 {
		t.Fatalf("Live() = %d during a Write, want 1", n)
	}
	if names := listDir(t, dir); len(names) != 2 {
		t.Fatalf("during the Write the folder holds %v, want the file and one temp file", names)
	}
	if n := Abandon(); n != 1 {
		t.Fatalf("Abandon removed %d files, want 1", n)
	}
	if names := listDir(t, dir); len(names) != 1 || names[0] != "out.png" {
		t.Fatalf("after Abandon the folder holds %v", names)
	}
	close(resume)
	if err := <-done; err == nil {
		t.Fatal("the abandoned Write reported success")
	}
	if b, _ := os.ReadFile(path); string(b) != "previous" {
		t.Fatalf("destination is %q, want it untouched", b)
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Fatalf("after the abandoned Write the folder holds %v", names)
	}
	err := Write(filepath.Join(dir, "later.png"), 0o644, func(io.Writer) error { return nil })
	if !errors.Is(err, ErrAbandoned) {
		t.Fatalf("Write after Abandon: %v, want ErrAbandoned", err)
	}
	if Live() != 0 {
		t.Fatalf("Live() = %d at the end", Live())
	}
}
