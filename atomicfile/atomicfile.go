// Package atomicfile writes files that are never seen partially written:
// content goes to a hidden temporary file in the same directory, which is
// synced and then renamed over the destination.
package atomicfile

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"animegan/internal/flock"
	"animegan/internal/testhook"
)

// tempMarker is part of every temporary file name; RemoveStale looks for it.
// Temporary names are ".<base>.animegan-tmp-<16 hex digits>": they start
// with a dot, so directory walkers that skip dot-files skip them.
const tempMarker = ".animegan-tmp-"

// IsTemp reports whether a file name (base name or path) is one of this
// package's temporary files.
func IsTemp(name string) bool {
	base := filepath.Base(name)
	i := strings.LastIndex(base, tempMarker)
	if !strings.HasPrefix(base, ".") || i < 1 {
		return false
	}
	suffix := base[i+len(tempMarker):]
	if len(suffix) != 16 {
		return false
	}
	_, err := hex.DecodeString(suffix)
	return err == nil
}

// file is what Write needs of an *os.File; tests substitute failing files.
type file interface {
	io.Writer
	Sync() error
	Close() error
}

var openTemp = func(name string, perm os.FileMode) (file, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
}

func tempName(path string) (string, error) {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	dir, base := filepath.Split(path)
	return filepath.Join(dir, "."+tempBase(base)+tempMarker+hex.EncodeToString(rnd[:])), nil
}

// tempBase is the part of a destination's name its temp file carries, cut
// to keep the temp name within NAME_MAX (255 bytes).
func tempBase(base string) string {
	if max := 255 - 1 - len(tempMarker) - 16; len(base) > max {
		return base[:max]
	}
	return base
}

// Write creates or replaces path with what fill writes, atomically: readers
// see either the old file or the complete new one. fill's writer is
// buffered. The data and the directory entry are fsynced before Write
// returns. perm is applied to the new file (subject to the umask).
//
// On any failure — fill returning an error or panicking, a short write
// (ENOSPC, EDQUOT), sync, close or rename failing — the temporary file is
// removed, path is left as it was, and the error names path and wraps the
// cause (errors.Is(err, syscall.ENOSPC) works). A panic in fill is
// returned as an error, not re-raised.
//
// The temporary file is write-locked (internal/flock) from just after its
// creation until after the rename, so that RemoveStale in another process,
// on this host or another, can tell it from the litter of a killed run.
func Write(path string, perm os.FileMode, fill func(w io.Writer) error) (err error) {
	tmp, f, held, err := create(path, perm)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	committed := false
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("writing %s: panic while filling: %v", path, p)
		}
		if !committed {
			f.Close()
			os.Remove(tmp)
		}
		if held != nil {
			held.Close() // releases the lock, after the rename or the removal
		}
		live.forget(tmp)
	}()
	testhook.At(testhook.TempCreated)
	bw := bufio.NewWriterSize(f, 256<<10)
	if err := fill(bw); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, unwrapPathError(err))
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing %s: sync: %w", path, unwrapPathError(err))
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: close: %w", path, unwrapPathError(err))
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: rename: %w", path, unwrapPathError(err))
	}
	committed = true
	// Make the rename durable. Some file systems cannot sync directories;
	// the file itself is complete by now, so that is not reported.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// create makes and registers the temporary file of path, and locks it
// through a second descriptor, held, which Write keeps open until after
// the rename (f itself is closed before, so that a failing close still
// leaves path untouched). held is nil where the file system cannot lock;
// the file is then unprotected, as files of any other program are.
//
// Between the creation and the lock, RemoveStale in another process may
// take the file for a dead writer's: it locks and unlinks it. create sees
// that (the lock is busy, or the name no longer leads to the locked file)
// and starts again under a new name.
func create(path string, perm os.FileMode) (tmp string, f file, held *os.File, err error) {
	for range 4 {
		if tmp, err = tempName(path); err != nil {
			return "", nil, nil, err
		}
		if f, err = live.open(tmp, perm); err != nil {
			if errors.Is(err, ErrAbandoned) {
				return "", nil, nil, err
			}
			return "", nil, nil, fmt.Errorf("creating temporary file: %w", unwrapPathError(err))
		}
		held, err = lockTemp(tmp)
		if err == nil {
			return tmp, f, held, nil
		}
		f.Close()
		os.Remove(tmp)
		live.forget(tmp)
		if !errors.Is(err, errTaken) {
			return "", nil, nil, fmt.Errorf("locking temporary file: %w", unwrapPathError(err))
		}
	}
	return "", nil, nil, fmt.Errorf("creating temporary file: %w", err)
}

// openHeld opens a new temporary file a second time, to lock it; tests
// make it fail as it does for a file whose mode denies its owner writing
// (root is never denied).
var openHeld = func(name string) (*os.File, error) { return os.OpenFile(name, os.O_RDWR, 0) }

// tryLock is flock.TryLock; tests make it report a file system without
// locks.
var tryLock = flock.TryLock

// errTaken: another process's RemoveStale took the new temporary file.
var errTaken = errors.New("temporary file removed by another process as it was created")

func lockTemp(tmp string) (*os.File, error) {
	held, err := openHeld(tmp)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, errTaken
	case errors.Is(err, os.ErrPermission):
		return nil, nil // perm without the owner's write bit: it cannot be locked
	case err != nil:
		return nil, err
	}
	switch err := tryLock(held); {
	case errors.Is(err, flock.ErrUnsupported):
		held.Close()
		return nil, nil
	case errors.Is(err, flock.ErrBusy):
		held.Close()
		return nil, errTaken
	case err != nil:
		held.Close()
		return nil, err
	}
	if ok, err := flock.Still(held, tmp); !ok || err != nil {
		held.Close()
		if err == nil {
			err = errTaken
		}
		return nil, err
	}
	return held, nil
}

// ErrAbandoned is returned by Write once Abandon has been called.
var ErrAbandoned = errors.New("process is exiting")

// registry tracks the temporary files of the Writes in progress, so that a
// process about to exit at once (a second Ctrl-C) can delete them first
// instead of leaving hidden litter for the next run's RemoveStale.
type registry struct {
	mu        sync.Mutex
	files     map[string]struct{}
	abandoned bool
}

var live = &registry{files: make(map[string]struct{})}

// open creates a temporary file and registers it, under the lock, so that
// Abandon never misses a file that is about to appear.
func (r *registry) open(name string, perm os.FileMode) (file, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.abandoned {
		return nil, ErrAbandoned
	}
	f, err := openTemp(name, perm)
	if err == nil {
		r.files[name] = struct{}{}
	}
	return f, err
}

func (r *registry) forget(name string) {
	r.mu.Lock()
	delete(r.files, name)
	r.mu.Unlock()
}

// Abandon deletes the temporary file of every Write in progress and makes
// every later Write fail with ErrAbandoned; it returns how many it deleted.
// Call it just before os.Exit when the process cannot wait for its writers.
// A Write whose temporary file was deleted under it fails at rename and
// leaves its destination as it was, so no partial file remains either way.
func Abandon() int {
	live.mu.Lock()
	defer live.mu.Unlock()
	live.abandoned = true
	n := 0
	for name := range live.files {
		if os.Remove(name) == nil {
			n++
		}
		delete(live.files, name)
	}
	return n
}

// Live is the number of temporary files of Writes in progress.
func Live() int {
	live.mu.Lock()
	defer live.mu.Unlock()
	return len(live.files)
}

// unwrapPathError drops an *os.PathError / *os.LinkError wrapper whose path
// is the temporary name (the message names the real path instead); the
// syscall error stays wrapped.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// UnknownAge is how old a temporary file must be before RemoveStale
// deletes it when it cannot tell whether its writer is alive (the file
// system cannot lock). No write keeps its temporary file anywhere near
// that long; clock skew between NFS clients is far smaller.
const UnknownAge = 24 * time.Hour

// RemoveStale deletes the temporary files that Write leaves behind when the
// process is killed mid-write (only names matching this package's pattern,
// only directly in dir, only regular files). A file whose writer is alive,
// in this process or another, on this host or another sharing the file
// system, is never deleted: Write holds a lock on it until its rename, and
// RemoveStale deletes a file only after taking that lock itself (the
// kernel drops a lock when its holder dies; an NFS server, when the dead
// client's lease ends or the client restarts). Where the file system
// cannot lock, only files older than UnknownAge go.
//
// It returns how many it removed; the error is the first failure, after
// trying all of them.
func RemoveStale(dir string) (int, error) { return removeStale(dir, nil) }

// RemoveStaleOf is RemoveStale for the temporary files of the named
// destinations only (base names in dir): the other shards of a sharded run
// clean up after themselves.
func RemoveStaleOf(dir string, dests []string) (int, error) {
	own := make(map[string]bool, len(dests))
	for _, d := range dests {
		own[tempBase(d)] = true
	}
	return removeStale(dir, own)
}

func removeStale(dir string, own map[string]bool) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("removing stale temporary files in %s: %w", dir, err)
	}
	n := 0
	var first error
	for _, e := range entries {
		if !e.Type().IsRegular() || !IsTemp(e.Name()) {
			continue
		}
		if name := e.Name(); own != nil && !own[name[1:strings.LastIndex(name, tempMarker)]] {
			continue
		}
		removed, err := removeIfDead(filepath.Join(dir, e.Name()))
		if err != nil && first == nil {
			first = fmt.Errorf("removing stale temporary file: %w", err)
		}
		if removed {
			n++
		}
	}
	return n, first
}

// removeIfDead deletes a temporary file whose writer is provably gone.
func removeIfDead(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil // its writer renamed or removed it just now
	case err != nil:
		return removeIfOld(path) // not ours to lock (another user's?)
	}
	defer f.Close() // after the removal: the lock keeps a writer that comes back to it out
	switch err := tryLock(f); {
	case errors.Is(err, flock.ErrBusy):
		return false, nil // alive
	case errors.Is(err, flock.ErrUnsupported):
		return removeIfOld(path)
	case err != nil:
		return false, err
	}
	return remove(path)
}

func remove(path string) (bool, error) {
	switch err := os.Remove(path); {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

func removeIfOld(path string) (bool, error) {
	info, err := os.Stat(path)
	if err != nil || time.Since(info.ModTime()) < UnknownAge {
		return false, nil
	}
	return remove(path)
}
