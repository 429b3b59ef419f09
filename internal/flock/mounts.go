package flock

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// LocalOnly says why locks taken in dir are not seen by other hosts, or
// returns "": an NFS mount with local_lock=posix or local_lock=all (which
// nolock implies) keeps fcntl locks on the client that took them. Such a
// mount cannot be told from the inside otherwise: the locks are granted.
func LocalOnly(dir string) string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return localOnly(f, dir)
}

func localOnly(mountinfo io.Reader, dir string) string {
	var best, fstype, opts string
	sc := bufio.NewScanner(mountinfo)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		// id parent major:minor root mount-point options [optional...] - fstype source super-options
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Fields(pre), strings.Fields(post)
		if !ok || len(fields) < 5 || len(tail) < 3 {
			continue
		}
		mp := unescapeMount(fields[4])
		if !within(dir, mp) || len(mp) < len(best) {
			continue
		}
		best, fstype, opts = mp, tail[0], tail[2] // later mounts over the same point win
	}
	if fstype != "nfs" && fstype != "nfs4" {
		return ""
	}
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "local_lock=posix", "local_lock=all", "nolock":
			return fstype + " mount " + best + " has " + o + ": its locks are not seen by other hosts"
		}
	}
	return ""
}

func within(path, mountPoint string) bool {
	return mountPoint == "/" || path == mountPoint || strings.HasPrefix(path, mountPoint+"/")
}

// unescapeMount undoes mountinfo's octal escapes (\040 is a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && isOctal(s[i+1:i+4]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range 3 {
		if s[i] < '0' || s[i] > '7' {
			return false
		}
	}
	return true
}
