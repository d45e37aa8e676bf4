package baseline

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func gzipped(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestScanLines(t *testing.T) {
	t.Parallel()
	e := rootEnv(t, map[string]string{
		"plain":      "a\r\nb\n\nlast",
		"log.1.gz":   gzipped(t, "x\ny\n"),
		"bad.gz":     "this is not a gzip stream",
		"big":        strings.Repeat("0123456789\n", 10),
		"longline":   strings.Repeat("x", maxRead+1) + "\n",
		"dir/inside": "",
	})
	collect := func(max int64, name string) ([]string, error) {
		var got []string
		err := e.root.scanLines(max, func(l []byte) { got = append(got, string(l)) }, strings.Split(name, "/")...)
		return got, err
	}
	for _, tc := range []struct {
		name string
		max  int64
		want string // the lines joined by |
	}{
		{"plain", 100, "a|b||last"},
		{"log.1.gz", 100, "x|y"},
		{"big", 110, strings.TrimSuffix(strings.Repeat("0123456789|", 10), "|")},
	} {
		got, err := collect(tc.max, tc.name)
		if err != nil || strings.Join(got, "|") != tc.want {
			t.Errorf("%s (max %d): lines %q, error %v; want %q", tc.name, tc.max, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		max  int64
		err  error
	}{
		{"big", 109, ErrTooLarge},
		{"longline", maxPackageDB, bufio.ErrTooLong},
		{"bad.gz", 100, gzip.ErrHeader},
		{"dir", 100, ErrNotRegular},
		{"absent", 100, os.ErrNotExist},
	} {
		_, err := collect(tc.max, tc.name)
		if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s (max %d): error %v, want %v naming the file", tc.name, tc.max, err, tc.err)
		}
	}
}

// TestLastUpgradeReadsRotatedLogs: apt's and dpkg's logs are read line by
// line, rotated gzip logs included; a damaged rotated log does not hide the
// others.
func TestLastUpgradeReadsRotatedLogs(t *testing.T) {
	t.Parallel()
	e := rootEnv(t, map[string]string{
		"var/log/apt/history.log":      "Start-Date: 2026-01-05  10:00:00\nInstall: a:amd64 (1)\nEnd-Date: 2026-01-05  10:00:01\n",
		"var/log/apt/history.log.1.gz": gzipped(t, "Start-Date: 2026-03-01  08:00:00\nUpgrade: b:amd64 (1, 2)\nEnd-Date: 2026-03-01  08:00:09\n"),
		"var/log/apt/history.log.2.gz": "damaged",
		"var/log/dpkg.log":             "2026-02-01 09:00:00 upgrade c:amd64 1 2\n2026-04-01 09:00:00 install d:amd64 <none> 1\n",
	})
	got, where := e.lastUpgrade()
	want := time.Date(2026, 3, 1, 8, 0, 0, 0, time.Local)
	if !got.Equal(want) || where != "/var/log/apt/history.log.1.gz (apt Upgrade)" {
		t.Errorf("lastUpgrade = %v from %q, want %v from the rotated apt log", got, where, want)
	}
}
