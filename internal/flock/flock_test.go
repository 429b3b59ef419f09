package flock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestLock: two open files of one file exclude each other (as two
// processes would), Lock reports that it must wait and gets the lock once
// the holder closes, and Still sees a rename over the locked file.
func TestLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	a, b := open(), open()
	defer b.Close()
	if err := TryLock(a); err != nil {
		t.Fatal(err)
	}
	if err := TryLock(b); !errors.Is(err, ErrBusy) {
		t.Fatalf("second lock: %v, want ErrBusy", err)
	}
	waiting := make(chan struct{})
	got := make(chan error, 1)
	go func() { got <- Lock(b, func() { close(waiting) }) }()
	<-waiting
	if ok, err := Still(a, path); !ok || err != nil {
		t.Fatalf("Still = %t, %v before any rename", ok, err)
	}
	repl := path + ".new"
	if err := os.WriteFile(repl, []byte("compacted"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(repl, path); err != nil {
		t.Fatal(err)
	}
	a.Close() // releases the lock
	if err := <-got; err != nil {
		t.Fatalf("waiting lock: %v", err)
	}
	if ok, err := Still(b, path); ok || err != nil {
		t.Fatalf("Still = %t, %v after a rename over the file, want false", ok, err)
	}
	if err := Unlock(b); err != nil {
		t.Fatal(err)
	}
	c := open()
	defer c.Close()
	if err := TryLock(c); err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
}
