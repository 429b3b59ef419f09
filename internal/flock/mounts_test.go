package flock

import (
	"strings"
	"testing"
)

func TestLocalOnly(t *testing.T) {
	const mountinfo = `27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
40 27 0:50 / /shared rw,relatime shared:1 - nfs4 server:/export rw,vers=4.2,hard,proto=tcp,local_lock=none
41 27 0:51 / /old rw,relatime - nfs server:/old rw,vers=3,hard,nolock,proto=tcp,local_lock=all
42 27 0:52 / /posix rw - nfs server:/p rw,vers=3,local_lock=posix
43 27 0:53 / /flock rw - nfs server:/f rw,vers=3,local_lock=flock
44 27 0:54 / /my\040photos rw - nfs server:/s rw,vers=3,local_lock=all
45 41 0:55 / /old/inner rw - nfs4 server:/inner rw,vers=4.1,local_lock=none
46 27 0:56 / /shared rw - nfs server:/over rw,vers=3,local_lock=all
`
	for _, tc := range []struct {
		dir, want string
	}{
		{"/home/me/out", ""},                 // local disk
		{"/old/out", "nolock"},               // NFSv3 without locks across hosts
		{"/old/inner/out", ""},               // a mount inside it that shares locks
		{"/oldish/out", ""},                  // a prefix of the name is not the mount
		{"/posix", "local_lock=posix"},       // the mount point itself
		{"/flock/out", ""},                   // only flock() is local; fcntl locks are shared
		{"/my photos/out", "local_lock=all"}, // an escaped mount point
		{"/shared/out", "local_lock=all"},    // the later mount over /shared hides the first
	} {
		got := localOnly(strings.NewReader(mountinfo), tc.dir)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want it to name %q", tc.dir, got, tc.want)
		}
	}
	if got := LocalOnly(t.TempDir()); got != "" {
		t.Logf("this machine's temporary folder: %s", got)
	}
}
