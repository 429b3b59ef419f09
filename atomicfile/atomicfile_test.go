package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"animegan/internal/flock"
)

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteSuccess(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.jpg")
	err := Write(path, 0o640, func(w io.Writer) error {
		_, err := io.WriteString(w, "hello")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "hello" {
		t.Fatalf("content %q, %v", data, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm()&^0o640 != 0 {
		t.Errorf("mode %v", st.Mode())
	}
	if names := listDir(t, dir); len(names) != 1 || names[0] != "out.jpg" {
		t.Errorf("directory holds %v", names)
	}
}

func TestWriteBig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big.bin")
	want := bytes.Repeat([]byte("0123456789abcdef"), 100_000)
	if err := Write(path, 0o644, func(w io.Writer) error { _, err := w.Write(want); return err }); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, want) {
		t.Fatal("content differs")
	}
}

func TestFillErrorLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.png")
	boom := errors.New("model exploded")
	err := Write(path, 0o644, func(w io.Writer) error {
		w.Write(bytes.Repeat([]byte{1}, 1<<20)) // past the buffer: a partial temp file exists
		return boom
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("left behind %v", names)
	}
}

func TestFillPanic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.png")
	os.WriteFile(path, []byte("old"), 0o644)
	err := Write(path, 0o644, func(w io.Writer) error {
		io.WriteString(w, "partial")
		panic("index out of range")
	})
	if err == nil || !strings.Contains(err.Error(), "index out of range") || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Errorf("left behind %v", names)
	}
	if data, _ := os.ReadFile(path); string(data) != "old" {
		t.Errorf("old file changed to %q", data)
	}
}

func TestReplaceExisting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.jpg")
	os.WriteFile(path, []byte("old content"), 0o644)
	// Keep the old file open: after the rename it must still read the old
	// content (a new inode replaced it; it was not truncated in place).
	old, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	seen := ""
	err = Write(path, 0o644, func(w io.Writer) error {
		// While filling, the destination still holds the old content.
		b, _ := os.ReadFile(path)
		seen = string(b)
		_, err := io.WriteString(w, "new")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != "old content" {
		t.Errorf("destination during fill: %q", seen)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("after: %q", b)
	}
	if b, _ := io.ReadAll(old); string(b) != "old content" {
		t.Errorf("old handle reads %q", b)
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v", names)
	}
}

func TestUnwritableDirectory(t *testing.T) {
	dir := t.TempDir()
	// Missing directory and a file used as a directory.
	for _, tc := range []struct {
		path   string
		target error
	}{
		{filepath.Join(dir, "missing", "out.jpg"), syscall.ENOENT},
		{filepath.Join(dir, "file", "out.jpg"), syscall.ENOTDIR},
	} {
		os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
		err := Write(tc.path, 0o644, func(w io.Writer) error { return nil })
		if !errors.Is(err, tc.target) || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("%s: err = %v, want %v", tc.path, err, tc.target)
		}
	}
	if os.Geteuid() == 0 {
		t.Log("running as root: permission bits do not apply, EACCES case skipped")
		return
	}
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o555)
	defer os.Chmod(ro, 0o755)
	path := filepath.Join(ro, "out.jpg")
	err := Write(path, 0o644, func(w io.Writer) error { return nil })
	if !errors.Is(err, syscall.EACCES) || !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want EACCES", err)
	}
}

// failingFile injects errors into the temporary file's operations.
type failingFile struct {
	f                       *os.File
	after                   int // bytes accepted before writes fail
	writeErr, syncErr, cErr error
	written                 int
}

func (ff *failingFile) Write(p []byte) (int, error) {
	if ff.writeErr != nil && ff.written+len(p) > ff.after {
		n := max(0, ff.after-ff.written)
		ff.f.Write(p[:n])
		ff.written += n
		return n, &os.PathError{Op: "write", Path: ff.f.Name(), Err: ff.writeErr}
	}
	n, err := ff.f.Write(p)
	ff.written += n
	return n, err
}

func (ff *failingFile) Sync() error {
	if ff.syncErr != nil {
		return &os.PathError{Op: "sync", Path: ff.f.Name(), Err: ff.syncErr}
	}
	return ff.f.Sync()
}

func (ff *failingFile) Close() error {
	err := ff.f.Close()
	if ff.cErr != nil {
		return &os.PathError{Op: "close", Path: ff.f.Name(), Err: ff.cErr}
	}
	return err
}

func TestInjectedErrors(t *testing.T) {
	orig := openTemp
	defer func() { openTemp = orig }()
	for _, tc := range []struct {
		name string
		ff   failingFile
		want error
	}{
		{"ENOSPC on write", failingFile{after: 1000, writeErr: syscall.ENOSPC}, syscall.ENOSPC},
		{"EDQUOT on write", failingFile{after: 0, writeErr: syscall.EDQUOT}, syscall.EDQUOT},
		{"EIO on sync", failingFile{syncErr: syscall.EIO}, syscall.EIO},
		{"ENOSPC on close", failingFile{cErr: syscall.ENOSPC}, syscall.ENOSPC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.jpg")
			os.WriteFile(path, []byte("previous"), 0o644)
			openTemp = func(name string, perm os.FileMode) (file, error) {
				f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
				if err != nil {
					return nil, err
				}
				ff := tc.ff
				ff.f = f
				return &ff, nil
			}
			err := Write(path, 0o644, func(w io.Writer) error {
				_, err := w.Write(bytes.Repeat([]byte("x"), 3000))
				return err
			})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), tempMarker) {
				t.Errorf("error should name the destination, not the temp file: %v", err)
			}
			if names := listDir(t, dir); len(names) != 1 {
				t.Errorf("directory holds %v", names)
			}
			if b, _ := os.ReadFile(path); string(b) != "previous" {
				t.Errorf("destination changed to %q", b)
			}
		})
	}
}

// TestRealENOSPC fills a tiny tmpfs, when this process may mount one.
func TestRealENOSPC(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v %s", err, out)
	}
	defer exec.Command("umount", dir).Run()
	path := filepath.Join(dir, "out.bin")
	err := Write(path, 0o644, func(w io.Writer) error {
		_, err := w.Write(make([]byte, 1<<20))
		return err
	})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("err = %v, want ENOSPC", err)
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("left behind %v", names)
	}
}

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	stale := []string{
		".photo.jpg.animegan-tmp-0123456789abcdef",
		".b.png.animegan-tmp-fedcba9876543210",
	}
	keep := []string{
		"photo.jpg",
		".hidden",
		".photo.jpg.animegan-tmp-notrandomhexxxxx",
		"x.animegan-tmp-0123456789abcdef", // not hidden: not ours
		".other.tmp",
	}
	for _, n := range append(append([]string{}, stale...), keep...) {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644)
	}
	os.Mkdir(filepath.Join(dir, ".d.animegan-tmp-0123456789abcdef"), 0o755) // directories are left alone
	n, err := RemoveStale(dir)
	if err != nil || n != len(stale) {
		t.Fatalf("RemoveStale = %d, %v", n, err)
	}
	names := listDir(t, dir)
	if len(names) != len(keep)+1 {
		t.Errorf("left %v", names)
	}
	for _, s := range stale {
		if _, err := os.Stat(filepath.Join(dir, s)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s not removed", s)
		}
	}
	if _, err := RemoveStale(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}
	// A temp file from a real (interrupted) Write matches the pattern.
	orig := openTemp
	defer func() { openTemp = orig }()
	var tmpName string
	openTemp = func(name string, perm os.FileMode) (file, error) {
		tmpName = name
		return orig(name, perm)
	}
	Write(filepath.Join(dir, "z.jpg"), 0o644, func(io.Writer) error { return fmt.Errorf("stop") })
	if !IsTemp(tmpName) || !strings.HasPrefix(filepath.Base(tmpName), ".z.jpg") {
		t.Errorf("temp name %q not recognised", tmpName)
	}
}

func TestLongName(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, strings.Repeat("n", 250)+".jpg")
	if err := Write(path, 0o644, func(w io.Writer) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestInjectedEACCES(t *testing.T) {
	orig := openTemp
	defer func() { openTemp = orig }()
	openTemp = func(name string, perm os.FileMode) (file, error) {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EACCES}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "out.jpg")
	err := Write(path, 0o644, func(w io.Writer) error { t.Error("fill called"); return nil })
	if !errors.Is(err, syscall.EACCES) || !errors.Is(err, os.ErrPermission) || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v", err)
	}
	t.Log(err)
}

// TestRemoveStaleSparesLiveWriters: a Write in progress holds a lock on its
// temporary file, so RemoveStale (here from the same process, through
// another open file, which OFD locks treat as another owner) leaves it
// alone and the Write completes; once nothing holds a temporary file it
// is litter and goes.
func TestRemoveStaleSparesLiveWriters(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.png")
	filling, resume := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Write(path, 0o644, func(w io.Writer) error {
			close(filling)
			<-resume
			_, err := w.Write([]byte("complete"))
			return err
		})
	}()
	<-filling
	litter := filepath.Join(dir, ".b.png"+tempMarker+"0123456789abcdef")
	must(t, os.WriteFile(litter, []byte("a killed run's"), 0o644))
	for _, clean := range []func() (int, error){
		func() (int, error) { return RemoveStale(dir) },
		func() (int, error) { return RemoveStaleOf(dir, []string{"out.png"}) },
	} {
		if _, err := clean(); err != nil {
			t.Fatal(err)
		}
		if names := listDir(t, dir); len(names) != 1 || !IsTemp(names[0]) || names[0] == filepath.Base(litter) {
			t.Fatalf("after clean-up the folder holds %v, want the live temporary file", names)
		}
	}
	if _, err := os.Stat(litter); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the unlocked temporary file was kept: %v", err)
	}
	close(resume)
	if err := <-done; err != nil {
		t.Fatalf("the live Write failed after the clean-up: %v", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "complete" {
		t.Fatalf("output %q, %v", b, err)
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Errorf("left %v", names)
	}
}

// TestCreateRetriesWhenTaken: when another process's RemoveStale locks or
// removes a temporary file between its creation and its lock, lockTemp
// says so and Write starts again under a new name.
func TestCreateRetriesWhenTaken(t *testing.T) {
	dir := t.TempDir()
	if _, err := lockTemp(filepath.Join(dir, ".gone"+tempMarker+"0123456789abcdef")); !errors.Is(err, errTaken) {
		t.Errorf("removed before its lock: %v, want errTaken", err)
	}
	busy := filepath.Join(dir, ".busy"+tempMarker+"0123456789abcdef")
	must(t, os.WriteFile(busy, nil, 0o644))
	cleaner, err := os.OpenFile(busy, os.O_RDWR, 0)
	must(t, err)
	defer cleaner.Close()
	must(t, flock.TryLock(cleaner))
	if _, err := lockTemp(busy); !errors.Is(err, errTaken) {
		t.Errorf("locked by a cleaner: %v, want errTaken", err)
	}

	// A cleaner takes the first temporary file as it is made: Write
	// still succeeds, under another name.
	orig := openTemp
	defer func() { openTemp = orig }()
	calls := 0
	openTemp = func(name string, perm os.FileMode) (file, error) {
		calls++
		f, err := orig(name, perm)
		if calls == 1 && err == nil {
			os.Remove(name)
		}
		return f, err
	}
	path := filepath.Join(dir, "out.jpg")
	if err := Write(path, 0o644, func(w io.Writer) error { _, err := w.Write([]byte("ok")); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "ok" || calls != 2 {
		t.Errorf("output %q after %d temporary files, want \"ok\" after 2", b, calls)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestNoLocks: on a file system that refuses locks, Write still works
// (unprotected), and RemoveStale, unable to tell a live writer from a dead
// one, deletes only temporary files older than UnknownAge.
func TestNoLocks(t *testing.T) {
	orig := tryLock
	defer func() { tryLock = orig }()
	tryLock = func(f *os.File) error {
		return &os.PathError{Op: "lock", Path: f.Name(), Err: errors.Join(flock.ErrUnsupported, syscall.ENOLCK)}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "out.png")
	if err := Write(path, 0o644, func(w io.Writer) error { _, err := w.Write([]byte("ok")); return err }); err != nil {
		t.Fatalf("Write without locks: %v", err)
	}
	old := filepath.Join(dir, ".a.png"+tempMarker+"0123456789abcdef")
	fresh := filepath.Join(dir, ".b.png"+tempMarker+"fedcba9876543210")
	must(t, os.WriteFile(old, nil, 0o644))
	must(t, os.WriteFile(fresh, nil, 0o644))
	long := time.Now().Add(-UnknownAge - time.Hour)
	must(t, os.Chtimes(old, long, long))
	if n, err := RemoveStale(dir); n != 1 || err != nil {
		t.Fatalf("RemoveStale = %d, %v; want the old file only", n, err)
	}
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a temporary file older than UnknownAge was kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a fresh temporary file whose writer cannot be checked was deleted: %v", err)
	}
}

// TestReadOnlyPerm: a file written with a mode its owner cannot write is
// written all the same: its temporary file just cannot be opened again to
// be locked (as root it can, so the refusal is injected too).
func TestReadOnlyPerm(t *testing.T) {
	orig := openHeld
	defer func() { openHeld = orig }()
	openHeld = func(name string) (*os.File, error) {
		if os.Geteuid() != 0 {
			return orig(name)
		}
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EACCES}
	}
	path := filepath.Join(t.TempDir(), "ro.txt")
	if err := Write(path, 0o444, func(w io.Writer) error { _, err := w.Write([]byte("ro")); return err }); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o444 {
		t.Fatalf("%v, %v", info, err)
	}
}
