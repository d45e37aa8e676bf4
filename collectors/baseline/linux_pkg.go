package baseline

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// Bounds of the package-integrity check: files and bytes hashed per scan.
const (
	verifyMaxFiles = 4000
	verifyMaxBytes = 256 << 20
)

// packageFiles returns, from /var/lib/dpkg/info/*.md5sums, the system
// binaries and the set-ID files of the walk that dpkg installed, with their
// package and md5 sum ("package md5"), and whether a dpkg database exists.
// Paths are relative to the root as dpkg records them. Only these entries
// are kept, so that a large package database costs no memory.
func (e *env) packageFiles() (map[string]string, bool) {
	type res struct {
		m  map[string]string
		ok bool
	}
	r, _ := memoize(e, "md5sums", func() (res, error) {
		if !e.root.Exists("var", "lib", "dpkg", "status") {
			return res{}, nil
		}
		setid := map[string]bool{}
		for _, f := range e.systemWalk().SetID {
			setid[strings.TrimPrefix(f.Path, "/")] = true
			setid[usrMerged(f.Path)] = true
		}
		m := map[string]string{}
		for _, p := range e.root.Glob("var/lib/dpkg/info/*.md5sums") {
			b, err := e.root.ReadRel(p)
			if err != nil {
				continue
			}
			pkg := strings.TrimSuffix(path.Base(p), ".md5sums")
			// line by line on the bytes, keeping only the entries needed: a
			// key cut from one string of the whole file would keep every
			// md5sums file of the system in memory for the scan
			for l := range bytes.Lines(b) {
				sum, file, ok := bytes.Cut(bytes.TrimSuffix(l, []byte("\n")), []byte("  "))
				if !ok || len(sum) != 32 {
					continue
				}
				if f := string(file); isSystemBinary(f) || setid[f] {
					m[f] = pkg + " " + string(sum)
				}
			}
		}
		return res{m, true}, nil
	})
	return r.m, r.ok
}

// diversions returns the paths dpkg-divert moved away (their md5sums no
// longer describe the file at the original path).
func (e *env) diversions() map[string]bool {
	out := map[string]bool{}
	b, err := e.readOptional("var", "lib", "dpkg", "diversions")
	if err != nil || b == nil {
		return out
	}
	ls := strings.Split(string(b), "\n")
	for i := 0; i+2 < len(ls); i += 3 {
		out[strings.TrimPrefix(ls[i], "/")] = true
	}
	return out
}

// isSystemBinary reports whether a dpkg path is an executable in a system
// binary directory.
func isSystemBinary(p string) bool {
	for _, d := range []string{"bin/", "sbin/", "usr/bin/", "usr/sbin/", "usr/libexec/", "usr/lib/openssh/", "usr/lib/systemd/systemd", "lib/systemd/systemd"} {
		if strings.HasPrefix(p, d) {
			return true
		}
	}
	return false
}

// packageIntegrity is LNX-MAL-004: the system binaries dpkg installed still
// have the md5 sums of their packages (what debsums and dpkg --verify
// compare). A file whose inode has not changed since its package was
// installed (ctime not after /var/lib/dpkg/info/PKG.list) cannot differ from
// what was installed and is not hashed again; the others are hashed, within
// a bound of files and bytes per scan.
func packageIntegrity(e *env) outcome {
	files, ok := e.packageFiles()
	if !ok {
		if e.root.Exists("var", "lib", "rpm") {
			return errOut("RPM host: the rpm database (/var/lib/rpm) is SQLite or Berkeley DB, which the agent does not read; run rpm -Va to verify packages")
		}
		return errOut("no package database (/var/lib/dpkg/status, /var/lib/rpm)")
	}
	div := e.diversions()
	var list []string
	for p := range files {
		if isSystemBinary(p) && !div[p] {
			list = append(list, p)
		}
	}
	sort.Strings(list)
	installed := map[string]time.Time{}
	installTime := func(pkg string) time.Time {
		if t, ok := installed[pkg]; ok {
			return t
		}
		var t time.Time
		for _, f := range []string{pkg + ".list", pkg + ".md5sums"} {
			if st, err := os.Stat(e.root.Path("var", "lib", "dpkg", "info", f)); err == nil {
				t = st.ModTime()
				break
			}
		}
		installed[pkg] = t
		return t
	}
	var v verdict
	checked, unchanged, bytesRead, missing, capped := 0, 0, int64(0), 0, false
	for _, p := range list {
		pkg, want, _ := strings.Cut(files[p], " ")
		st, err := os.Stat(e.root.Path(strings.Split(p, "/")...))
		if err != nil {
			if isNotExist(err) {
				missing++
			} else {
				v.err(&readError{path: p, err: err})
			}
			continue
		}
		if ct, ok := fileCtime(st); ok && !ct.After(installTime(pkg)) {
			unchanged++
			continue
		}
		if checked >= verifyMaxFiles || bytesRead >= verifyMaxBytes {
			capped = true
			continue
		}
		f, err := os.Open(e.root.Path(strings.Split(p, "/")...))
		if err != nil {
			v.err(&readError{path: p, err: err})
			continue
		}
		h := md5.New()
		n, err := io.Copy(h, io.LimitReader(f, verifyMaxBytes))
		f.Close()
		if err != nil {
			v.err(&readError{path: p, err: err})
			continue
		}
		checked++
		bytesRead += n
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			v.no("/%s differs from package %s (md5 %s, /var/lib/dpkg/info/%s.md5sums has %s)", p, pkg, got, pkg, want)
		}
	}
	ev := itoa(len(list)) + " system binaries in /var/lib/dpkg/info/*.md5sums: " + itoa(unchanged) + " unchanged since their package's install (ctime), " +
		itoa(checked) + " changed since and hashed (" + itoa(int(bytesRead>>20)) + " MiB)"
	if capped {
		ev += "; hashing stopped at the bound of " + itoa(verifyMaxFiles) + " files / " + itoa(verifyMaxBytes>>20) + " MiB"
	}
	if missing > 0 {
		ev += "; " + itoa(missing) + " listed files absent (usrmerge links or removed)"
	}
	v.good = append(v.good, ev)
	return v.outcome()
}

// lastUpgrade returns the time of the newest package upgrade recorded by
// apt (history.log, Upgrade: lines), dpkg (dpkg.log "upgrade") or dnf
// (dnf.rpm.log "Upgrade"), rotated gzip logs included, and where it was
// found. A package install is not an upgrade.
func (e *env) lastUpgrade() (time.Time, string) {
	var best time.Time
	where := ""
	consider := func(t time.Time, w string) {
		if t.After(best) {
			best, where = t, w
		}
	}
	read := func(glob string, each func(line string, file string)) {
		for _, p := range e.root.Glob(glob) {
			// a damaged or oversized log counts for the lines read before
			_ = e.root.scanLines(maxPackageDB, func(l []byte) { each(string(l), "/"+p) }, strings.Split(p, "/")...)
		}
	}
	var start time.Time
	read("var/log/apt/history.log*", func(l, f string) {
		if s, ok := strings.CutPrefix(l, "Start-Date: "); ok {
			start, _ = time.ParseInLocation("2006-01-02  15:04:05", strings.TrimSpace(s), time.Local)
		}
		if strings.HasPrefix(l, "Upgrade: ") && !start.IsZero() {
			consider(start, f+" (apt Upgrade)")
		}
	})
	read("var/log/dpkg.log*", func(l, f string) {
		x := strings.Fields(l)
		if len(x) >= 3 && x[2] == "upgrade" {
			if t, err := time.ParseInLocation("2006-01-02 15:04:05", x[0]+" "+x[1], time.Local); err == nil {
				consider(t, f+" (dpkg upgrade)")
			}
		}
	})
	read("var/log/dnf.rpm.log*", func(l, f string) {
		x := strings.Fields(l)
		if len(x) >= 3 && (x[2] == "Upgrade:" || x[2] == "Upgraded:") {
			if t, err := time.Parse("2006-01-02T15:04:05-0700", x[0]); err == nil {
				consider(t, f+" (dnf Upgrade)")
			}
		}
	})
	return best, where
}

// pendingSecurity returns the installed packages for which a package list
// of a security archive (/var/lib/apt/lists/*security*_Packages) has a newer
// version, and the lists read.
func (e *env) pendingSecurity() ([]string, []string, time.Duration) {
	pkgs, ok, _ := e.packages()
	if !ok {
		return nil, nil, 0
	}
	var pending, lists []string
	var age time.Duration
	for _, p := range e.root.Glob("var/lib/apt/lists/*security*_Packages") {
		f, err := os.Open(e.root.Path(strings.Split(p, "/")...))
		if err != nil {
			continue
		}
		lists = append(lists, "/"+p)
		if a, ok := e.fileAge(strings.Split(p, "/")...); ok && a > age {
			age = a
		}
		sc := bufio.NewScanner(io.LimitReader(f, maxPackageDB))
		sc.Buffer(make([]byte, 0, 64*1024), maxRead)
		name := ""
		for sc.Scan() {
			l := sc.Text()
			if n, ok := strings.CutPrefix(l, "Package: "); ok {
				name = strings.TrimSpace(n)
			}
			if ver, ok := strings.CutPrefix(l, "Version: "); ok {
				if inst, ok := pkgs[name]; ok && debVersionCompare(strings.TrimSpace(ver), inst) > 0 {
					pending = appendUniq(pending, name+" "+inst+" → "+strings.TrimSpace(ver))
				}
			}
		}
		f.Close()
	}
	sort.Strings(pending)
	return pending, lists, age
}

// debVersionCompare compares Debian versions as dpkg does: epoch, then
// upstream version, then revision, each with verrevcmp ('~' sorts first).
func debVersionCompare(a, b string) int {
	split := func(v string) (int, string, string) {
		ep := 0
		if i := strings.IndexByte(v, ':'); i >= 0 {
			ep = atoiOr(v[:i], 0)
			v = v[i+1:]
		}
		rev := ""
		if i := strings.LastIndexByte(v, '-'); i >= 0 {
			v, rev = v[:i], v[i+1:]
		}
		return ep, v, rev
	}
	ea, ua, ra := split(a)
	eb, ub, rb := split(b)
	if ea != eb {
		if ea < eb {
			return -1
		}
		return 1
	}
	if c := verrevcmp(ua, ub); c != 0 {
		return c
	}
	return verrevcmp(ra, rb)
}

func verrevcmp(a, b string) int {
	order := func(c byte) int {
		switch {
		case c >= '0' && c <= '9':
			return 0
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			return int(c)
		case c == '~':
			return -1
		case c != 0:
			return int(c) + 256
		}
		return 0
	}
	at := func(s string, i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		first := 0
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			if ac, bc := order(at(a, i)), order(at(b, j)); ac != bc {
				return sign(order(at(a, i)) - order(at(b, j)))
			}
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		for i < len(a) && isDigit(a[i]) && j < len(b) && isDigit(b[j]) {
			if first == 0 {
				first = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if first != 0 {
			return sign(first)
		}
	}
	return 0
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
