package baseline

import (
	"io/fs"
	"path/filepath"
	"strings"
	"time"
)

// backupRecent is LNX-BAK-001: the newest file under the site backup paths
// is at most backup_max_age_days old. The walk is bounded (depth 4, 20 000
// entries).
func backupRecent(e *env) outcome {
	if len(e.site.BackupPaths) == 0 {
		return notConfigured("backup_paths")
	}
	var newest time.Time
	where := ""
	for _, bp := range e.site.BackupPaths {
		base := filepath.FromSlash(bp) // Windows: absolute native paths
		if e.root.dir != "" {
			base = e.root.Path(strings.Split(strings.Trim(bp, "/"), "/")...)
		}
		n := 0
		_ = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			n++
			if n > 20000 {
				return filepath.SkipAll
			}
			if d.IsDir() && strings.Count(strings.TrimPrefix(p, base), string(filepath.Separator)) >= 4 {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() {
				if info, err := d.Info(); err == nil && info.ModTime().After(newest) {
					newest, where = info.ModTime(), bp
				}
			}
			return nil
		})
	}
	if newest.IsZero() {
		return fail("no backup file under " + joinList(e.site.BackupPaths))
	}
	age := days(e.now.Sub(newest))
	ev := "newest backup under " + where + " is " + itoa(age) + " days old"
	if age > e.site.BackupMaxAgeDays {
		return fail(ev, "limit "+itoa(e.site.BackupMaxAgeDays)+" days")
	}
	return pass(ev)
}
