//go:build !unix

package baseline

import (
	"os"
	"time"
)

// ownerOf returns 0: file ownership is not compared on this OS.
func ownerOf(string) int { return 0 }

// fileIDs is not available on this OS.
func fileIDs(fi os.FileInfo) (uid, gid int, ok bool) { return 0, 0, false }

// fileCtime is not available on this OS.
func fileCtime(fi os.FileInfo) (time.Time, bool) { return time.Time{}, false }
