package buffer_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgeward/edgeward/buffer"
)

// mountTmpfs mounts a tmpfs of the given size on a temporary directory, or
// skips the test when this process may not mount (not root).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("disk-full test needs a small tmpfs and mount is not permitted here (run as root): %v: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// TestDiskFullDropsByPriority fills a real bbolt file on a 3 MiB tmpfs with
// status, activity and asset records, then keeps putting threat records.
// Every Put succeeds (the caller, a live capture, keeps running); ENOSPC
// makes room by dropping status first, then activity, then asset, oldest
// first, counted as "disk_full"; no threat record is dropped while a lower
// one is queued; the episode is logged once when it starts and once when it
// ends, never at Error.
func TestDiskFullDropsByPriority(t *testing.T) {
	t.Parallel()
	dir := mountTmpfs(t, "3m")
	var logs bytes.Buffer
	clk := newClock()
	b := openAt(t, filepath.Join(dir, "buffer.db"), buffer.Options{Logger: slogTo(&logs), CompactBelow: -1, Now: clk.Now})
	ctx := context.Background()
	classes := []string{"status", "activity", "asset", "baseline", "threat"}
	put := map[string][]string{}
	n := 0
	putBatch := func(class string, prio, count int) {
		t.Helper()
		var items []buffer.Item
		for range count {
			id := fmt.Sprintf("%s-%05d", class, n)
			n++
			key := ""
			if class != "threat" {
				key = id
			}
			items = append(items, buffer.Item{Stream: class, Key: key, Priority: prio,
				Data: []byte(id + " " + strings.Repeat("z", 900))})
			put[class] = append(put[class], id)
		}
		if err := b.Put(ctx, items...); err != nil {
			t.Fatalf("Put of %d %s records: %v (a full disk must drop by priority, not fail the caller)", count, class, err)
		}
	}
	// Lower priorities interleaved, about 2.2 MB: room for most of them.
	for i := range 48 {
		putBatch(classes[i%3], i%3, 50)
	}
	// Then 1.5 MB of threats: the disk fills up.
	for range 30 {
		putBatch("threat", 4, 50)
	}
	st := checkBalance(t, b)
	defer func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	}()
	if st.Dropped[buffer.ReasonDiskFull] == 0 {
		t.Fatalf("no disk_full drops: the disk never filled (stats %+v)", st)
	}
	queued := map[string]map[string]bool{}
	for _, e := range mustNext(t, b, 0, 0, 0) {
		if queued[e.Stream] == nil {
			queued[e.Stream] = map[string]bool{}
		}
		queued[e.Stream][strings.Fields(string(e.Data))[0]] = true
	}
	var dropped uint64
	for i, class := range classes {
		lost := len(put[class]) - len(queued[class])
		dropped += uint64(lost)
		if lost > 0 {
			for _, lower := range classes[:i] {
				if len(queued[lower]) > 0 {
					t.Errorf("%d %s records dropped while %d %s records stay queued", lost, class, len(queued[lower]), lower)
				}
			}
		}
		// Oldest first: what is left of a class is its newest records.
		for j, id := range put[class] {
			if j < lost && queued[class][id] {
				t.Errorf("%s: %s kept although older records than it were dropped... newer %s dropped", class, id, put[class][lost-1])
				break
			}
		}
		t.Logf("%-8s put %4d, queued %4d", class, len(put[class]), len(queued[class]))
	}
	if dropped != st.Dropped[buffer.ReasonDiskFull] {
		t.Errorf("%d records missing, %d counted as disk_full", dropped, st.Dropped[buffer.ReasonDiskFull])
	}
	if len(queued["threat"]) != len(put["threat"]) && len(queued["status"])+len(queued["activity"])+len(queued["asset"]) > 0 {
		t.Errorf("threat records dropped while lower ones are queued")
	}
	if c := strings.Count(logs.String(), "buffer disk full: dropping"); c != 1 {
		t.Errorf("%d 'disk full' log lines, want 1 per episode:\n%s", c, logs.String())
	}
	// The uplink drains the queue: space comes back, and after a quiet
	// minute the episode ends.
	drainAll(t, b)
	putBatch("threat", 4, 10)
	clk.Add(2 * time.Minute)
	putBatch("threat", 4, 10)
	if c := strings.Count(logs.String(), "disk space available again"); c != 1 {
		t.Errorf("%d 'available again' log lines, want 1:\n%s", c, logs.String())
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("a full disk logged at Error:\n%s", logs.String())
	}
	t.Logf("disk_full drops: %d; file %d bytes", checkBalance(t, b).Dropped[buffer.ReasonDiskFull], b.Stats().FileBytes)
}

// TestDiskFullEmptyQueue: another process fills the disk while the queue is
// empty, so nothing can be dropped to make room. Put still returns nil and
// counts its records as accepted and dropped ("disk_full") in memory; the
// first commit after space returns persists the counts. An Ack that cannot
// be written fails with ErrDiskFull instead.
func TestDiskFullEmptyQueue(t *testing.T) {
	t.Parallel()
	dir := mountTmpfs(t, "2m")
	path := filepath.Join(dir, "buffer.db")
	b := openAt(t, path, buffer.Options{CompactBelow: -1})
	ctx := context.Background()
	mustPut(t, b, event("first"))
	mustAck(t, b, seqs(mustNext(t, b, 0, 0, 0))...)
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	for len(chunk) > 1 {
		chunk = chunk[:len(chunk)/2]
		for {
			if _, err := f.Write(chunk); err != nil {
				break
			}
		}
	}
	f.Close()
	// The file's free pages, its preallocated tail and the reserve file
	// take some records first; batches that double in size soon exceed
	// them all.
	var st buffer.Stats
	for i := 0; i < 20 && st.Dropped[buffer.ReasonDiskFull] == 0; i++ {
		big := make([]buffer.Item, 200<<min(i, 6))
		for i := range big {
			big[i] = buffer.Item{Stream: "threat", Priority: 4, Data: bytes.Repeat([]byte("t"), 1000)}
		}
		if err := b.Put(ctx, big...); err != nil {
			t.Fatalf("Put on a full disk: %v", err)
		}
		// The uplink keeps acking what it sent: the queue empties.
		mustAck(t, b, seqs(mustNext(t, b, 0, 0, 0))...)
		st = checkBalance(t, b)
	}
	if st.Dropped[buffer.ReasonDiskFull] == 0 {
		t.Fatalf("stats on a full disk: %+v, want records counted as accepted and dropped", st)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	mustPut(t, b, event("after"))
	want := st.Dropped[buffer.ReasonDiskFull]
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := buffer.ReadStats(path)
	if err != nil {
		t.Fatal(err)
	}
	assertBalanced(t, got)
	if got.Dropped[buffer.ReasonDiskFull] != want {
		t.Fatalf("disk_full drops on disk after space returned: %d, want %d", got.Dropped[buffer.ReasonDiskFull], want)
	}
}

// TestDiskFullLongFill keeps putting activity records into a buffer on a
// small tmpfs, far past its size, then threat records, then activity
// again: every Put succeeds, the file never runs out of the free pages that
// the deletes making room need (it did once bbolt had used them all: from
// then on no transaction could commit and every record, threats included,
// was dropped while older activity records stayed queued), and no threat
// record is dropped while an activity record is queued.
func TestDiskFullLongFill(t *testing.T) {
	t.Parallel()
	dir := mountTmpfs(t, "4m")
	path := filepath.Join(dir, "buffer.db")
	b := openAt(t, path, buffer.Options{})
	ctx := context.Background()
	pad := strings.Repeat("a", 1000)
	put := func(class string, prio, from, n int) {
		for i := from; i < from+n; i++ {
			it := buffer.Item{Stream: class, Priority: prio, Data: fmt.Appendf(nil, `{"id":"%s-%d","pad":%q}`, class, i, pad)}
			if err := b.Put(ctx, it); err != nil {
				t.Fatalf("Put %s %d on a full disk: %v", class, i, err)
			}
		}
	}
	put("activity", 1, 0, 12000)
	put("threat", 4, 0, 50)
	put("activity", 1, 12000, 3000)
	st := checkBalance(t, b)
	threats, last := 0, uint64(0)
	for _, e := range mustNext(t, b, 0, 0, 0) {
		if e.Stream == "threat" {
			threats++
		}
		last = max(last, e.Seq)
	}
	if threats != 50 || st.Dropped[buffer.ReasonDiskFull] == 0 || last != st.Accepted {
		t.Fatalf("%d of 50 threats queued, newest queued record %d of %d accepted; stats %+v", threats, last, st.Accepted, st)
	}
}
