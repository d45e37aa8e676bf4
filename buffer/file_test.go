package buffer_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	"github.com/edgeward/edgeward/buffer"
)

// corruptCopies returns the files Open moved aside for path.
func corruptCopies(t *testing.T, path string) []string {
	t.Helper()
	m, err := filepath.Glob(path + ".corrupt-*")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOpenMovesCorruptFileAside(t *testing.T) {
	t.Parallel()
	garbage := func(n int) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			rnd := rand.New(rand.NewPCG(1, uint64(n))) // one per parallel subtest
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rnd.IntN(256))
			}
			writeFile(t, path, b)
		}
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
	}{
		{"garbage 100 bytes", garbage(100)},
		{"garbage one page", garbage(4096)}, // bbolt alone would map past EOF and fault
		{"garbage 64 KiB", garbage(64 << 10)},
		{"truncated buffer", func(t *testing.T, path string) {
			fillAndClose(t, path, 2000)
			truncateTo(t, path, func(size int64) int64 { return size / 2 })
		}},
		{"truncated to one page", func(t *testing.T, path string) {
			fillAndClose(t, path, 200)
			truncateTo(t, path, func(int64) int64 { return 4096 })
		}},
		{"both meta pages zeroed", func(t *testing.T, path string) {
			fillAndClose(t, path, 10)
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(make([]byte, 8192), 0); err != nil {
				t.Fatal(err)
			}
		}},
		{"foreign bbolt file", func(t *testing.T, path string) {
			db, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *bolt.Tx) error {
				_, err := tx.CreateBucket([]byte("someone else"))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := tempPath(t)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			tc.setup(t, path)
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := buffer.ReadStats(path); !errors.Is(err, buffer.ErrCorrupt) {
				t.Fatalf("ReadStats on damaged file: got %v, want ErrCorrupt", err)
			}
			var logs bytes.Buffer
			b := openAt(t, path, buffer.Options{Logger: slogTo(&logs)})
			aside := corruptCopies(t, path)
			if len(aside) != 1 {
				t.Fatalf("moved-aside files: %v, want 1", aside)
			}
			moved, err := os.ReadFile(aside[0])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(orig, moved) {
				t.Fatal("moved-aside file differs from the original")
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), aside[0]) {
				t.Fatalf("no Error log naming the moved file: %s", logs.String())
			}
			// The fresh buffer holds what was salvaged, says so, and works.
			reps, err := b.Recoveries(context.Background())
			if err != nil || len(reps) != 1 || reps[0].MovedTo != aside[0] || reps[0].Reason == "" {
				t.Fatalf("Recoveries = %+v, %v; want one report naming %s", reps, err, aside[0])
			}
			st := checkBalance(t, b)
			if st.Queued != reps[0].Salvaged {
				t.Fatalf("fresh buffer queues %d records, report says %d salvaged", st.Queued, reps[0].Salvaged)
			}
			mustPut(t, b, event("after recovery"))
			if got := datas(mustNext(t, b, 0, 0, 0)); uint64(len(got)) != st.Queued+1 || got[len(got)-1] != "after recovery" {
				t.Fatalf("entries after recovery: %d, want %d", len(got), st.Queued+1)
			}
			t.Logf("%s: report %+v", tc.name, reps[0])
		})
	}
}

func TestOpenHealthyFileIsNotMoved(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	fillAndClose(t, path, 300)
	b := openAt(t, path, buffer.Options{})
	if aside := corruptCopies(t, path); len(aside) != 0 {
		t.Fatalf("healthy file moved aside: %v", aside)
	}
	if st := checkBalance(t, b); st.Queued != 300 {
		t.Fatalf("queued = %d, want 300", st.Queued)
	}
}

func TestOpenLocked(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	b := openAt(t, path, buffer.Options{})
	mustPut(t, b, event("x"))
	start := time.Now()
	_, err := buffer.Open(path, buffer.Options{Timeout: 200 * time.Millisecond})
	if !errors.Is(err, buffer.ErrLocked) || !strings.Contains(err.Error(), "another edgeward running?") {
		t.Fatalf("second Open: got %v, want ErrLocked mentioning another edgeward", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Fatalf("second Open did not give up") // a guard against hanging, not a speed test
	}
	if aside := corruptCopies(t, path); len(aside) != 0 {
		t.Fatalf("locked file moved aside: %v", aside)
	}
	if _, err := buffer.ReadStats(path); !errors.Is(err, buffer.ErrLocked) {
		t.Fatalf("ReadStats while open: got %v, want ErrLocked", err)
	}
	if err := buffer.Dump(path, &bytes.Buffer{}, 0); !errors.Is(err, buffer.ErrLocked) {
		t.Fatalf("Dump while open: got %v, want ErrLocked", err)
	}
}

func TestReadStatsAndDump(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	b := openAt(t, path, buffer.Options{})
	ctx := context.Background()
	mustPut(t, b,
		buffer.Item{Stream: "asset", Key: "plc1", Priority: 2, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Data: []byte(`{"ip": "10.0.0.1"}`)},
		buffer.Item{Stream: "raw", Data: []byte{0xff, 0x00}},
		event(`{"kind":"gone"}`))
	es := mustNext(t, b, 0, 0, 0)
	if err := b.Drop(ctx, buffer.ReasonPoison, es[2].Seq); err != nil {
		t.Fatal(err)
	}
	want := b.Stats()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := buffer.ReadStats(path)
	if err != nil {
		t.Fatalf("ReadStats: %v", err)
	}
	want.OldestAge, got.OldestAge = 0, 0
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("ReadStats (-want +got):\n%s", diff)
	}

	var out bytes.Buffer
	if err := buffer.Dump(path, &out, 0); err != nil {
		t.Fatalf("Dump: %v", err)
	}
	type line struct {
		Seq        uint64          `json:"seq"`
		Stream     string          `json:"stream"`
		Key        string          `json:"key"`
		Priority   int             `json:"priority"`
		Time       time.Time       `json:"time"`
		Data       json.RawMessage `json:"data"`
		DataBase64 []byte          `json:"data_base64"`
	}
	var lines []line
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("Dump line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	wantLines := []line{
		{Seq: es[0].Seq, Stream: "asset", Key: "plc1", Priority: 2, Time: es[0].Time, Data: json.RawMessage(`{"ip":"10.0.0.1"}`)},
		{Seq: es[1].Seq, Stream: "raw", Time: es[1].Time, DataBase64: []byte{0xff, 0x00}},
	}
	if diff := cmp.Diff(wantLines, lines); diff != "" {
		t.Fatalf("Dump lines (-want +got):\n%s", diff)
	}
	out.Reset()
	if err := buffer.Dump(path, &out, 1); err != nil || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("Dump limit 1: err %v, output %q", err, out.String())
	}
	if _, err := buffer.ReadStats(filepath.Join(t.TempDir(), "missing.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadStats of missing file: got %v, want ErrNotExist", err)
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func fillAndClose(t *testing.T, path string, n int) {
	t.Helper()
	b, err := buffer.Open(path, buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	items := make([]buffer.Item, 0, n)
	for i := range n {
		items = append(items, buffer.Item{Stream: "s", Data: payload(500, i)})
	}
	if err := b.Put(context.Background(), items...); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func truncateTo(t *testing.T, path string, size func(int64) int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size(fi.Size())); err != nil {
		t.Fatal(err)
	}
}
