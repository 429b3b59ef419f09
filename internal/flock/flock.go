// Package flock takes whole-file fcntl write locks that other processes,
// on this host or (through the NFS lock protocol) on another, see.
//
// The locks are Linux open file description (OFD) locks: they belong to an
// open file, not to the process, so closing some other descriptor of the
// same file in the same process does not drop them (as it would a classic
// POSIX lock), and two opens in one process exclude each other as two
// processes do. The kernel passes them to NFS like classic POSIX locks:
// NFSv4 locks, or NLM (lockd) for NFSv3. They are released when the last
// descriptor of the open file is closed, which includes the holder dying.
package flock

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// ErrUnsupported wraps the error of a file system that cannot lock: an
// NFSv3 mount without a reachable lockd (ENOLCK), a kernel older than 3.15
// (EINVAL), a FUSE file system without locks (EOPNOTSUPP).
var ErrUnsupported = errors.New("file locking unavailable")

// ErrBusy says another open file holds the lock.
var ErrBusy = errors.New("locked by another process")

// Lock takes the write lock on all of f, waiting for it. busy, when not
// nil, is called once, before waiting, when another open file holds it.
// f must be open for writing.
func Lock(f *os.File, busy func()) error {
	err := set(f, unix.F_OFD_SETLK)
	if !errors.Is(err, ErrBusy) {
		return err
	}
	if busy != nil {
		busy()
	}
	return set(f, unix.F_OFD_SETLKW)
}

// TryLock takes the write lock on all of f, or returns ErrBusy at once.
func TryLock(f *os.File) error { return set(f, unix.F_OFD_SETLK) }

func set(f *os.File, cmd int) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart} // Start 0, Len 0: the whole file, however long
	for {
		err := unix.FcntlFlock(f.Fd(), cmd, &lk)
		switch {
		case err == nil:
			return nil
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN || err == unix.EACCES:
			return ErrBusy
		case err == unix.ENOLCK || err == unix.EINVAL || err == unix.EOPNOTSUPP || err == unix.ENOSYS:
			return &os.PathError{Op: "lock", Path: f.Name(), Err: errors.Join(ErrUnsupported, err)}
		}
		return &os.PathError{Op: "lock", Path: f.Name(), Err: err}
	}
}

// Unlock releases a lock taken on f; closing f does too.
func Unlock(f *os.File) error {
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: io.SeekStart}
	return unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
}

// Still reports whether name still refers to the file f has open: a lock
// taken on a file that was then unlinked or renamed over protects nothing.
// It opens name afresh rather than stat-ing it, because on NFS an open
// revalidates the name with the server (close-to-open consistency) where a
// stat may answer from the client's cache.
func Still(f *os.File, name string) (bool, error) {
	g, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer g.Close() // an OFD lock on f survives closing g
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	gi, err := g.Stat()
	if err != nil {
		return false, err
	}
	return os.SameFile(fi, gi), nil
}
