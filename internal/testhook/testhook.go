// Package testhook lets the CLI tests order the steps of two real
// processes deterministically: a process can be held at a named point (just
// before a journal compaction's rename, say) while another process runs,
// and a test can wait until a process has reached a point.
//
// It is inert unless ANIMEGAN_TEST_HOOKS names a folder. Then, at each
// point, the process creates FOLDER/POINT.reached (the first time only) and,
// while FOLDER/POINT.hold exists, waits. A test creates the .hold file
// before starting the process, waits for the .reached file, does what it
// must, and removes the .hold file to let the process go on.
package testhook

import (
	"os"
	"path/filepath"
	"time"
)

// EnvVar names the hook folder.
const EnvVar = "ANIMEGAN_TEST_HOOKS"

// Points of the program that tests hold or watch.
const (
	// TempCreated: an atomic write's temporary file exists and is locked.
	TempCreated = "temp-created"
	// JournalCompact: at the end of a run, before the journal's lock is taken.
	JournalCompact = "journal-compact"
	// JournalCompactLocked: the journal is locked and read, its compacted
	// copy not yet renamed over it.
	JournalCompactLocked = "journal-compact-locked"
	// JournalLockWait: an append found the journal locked by another
	// process and is about to wait for it.
	JournalLockWait = "journal-lock-wait"
	// CleanedUp: start-up removal of stale temporary files is done.
	CleanedUp = "cleaned-up"
	// TileBlended: a tiled image's first tile is blended into its output.
	TileBlended = "tile-blended"
	// Exiting: the command has finished and printed its summary; the
	// process is about to exit with its status.
	Exiting = "exiting"
)

// At marks point as reached and waits while it is held.
func At(point string) {
	dir := os.Getenv(EnvVar)
	if dir == "" {
		return
	}
	base := filepath.Join(dir, point)
	if f, err := os.OpenFile(base+".reached", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err == nil {
		f.Close()
	} else {
		return // held the first time only
	}
	for {
		if _, err := os.Stat(base + ".hold"); err != nil {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
