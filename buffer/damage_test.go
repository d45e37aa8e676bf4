package buffer_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/edgeward/edgeward/buffer"
)

// damageFixture is a real buffer file with records whose payloads carry a
// unique marker, so that the test can tell from the raw bytes of a page which
// records it holds.
type damageFixture struct {
	pristine []byte
	pageSize int
	types    []string        // bbolt's page type per page id ("leaf", "branch", "free", ...)
	queued   map[string]bool // markers of the records queued in the file
	acked    map[string]bool // markers of records delivered before the damage
	root     int             // the root bucket's page
	freelist int
}

var markerRE = regexp.MustCompile(`"R[0-9]{6}"`)

func marker(i int) string { return fmt.Sprintf(`"R%06d"`, i) }

// buildDamageFixture writes 4000 records (threat events and asset states)
// in batches, acks the first 600 (so the file has free pages), closes the file
// and reads it back with bbolt's page types.
func buildDamageFixture(t *testing.T) *damageFixture {
	t.Helper()
	path := tempPath(t)
	b, err := buffer.Open(path, buffer.Options{CompactBelow: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fx := &damageFixture{queued: map[string]bool{}, acked: map[string]bool{}}
	for i := 0; i < 4000; i += 100 {
		var items []buffer.Item
		for j := i; j < i+100; j++ {
			data := []byte(fmt.Sprintf(`{"m":%s,"pad":"%s"}`, marker(j), strings.Repeat("x", 200+j%100)))
			it := buffer.Item{Stream: "threat", Priority: 4, Data: data}
			if j%3 == 0 {
				it = buffer.Item{Stream: "asset", Key: fmt.Sprintf("plc-%d", j), Priority: 2, Data: data}
			}
			items = append(items, it)
			fx.queued[marker(j)] = true
		}
		if err := b.Put(ctx, items...); err != nil {
			t.Fatal(err)
		}
	}
	es, err := b.Next(ctx, 0, 600, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Ack(ctx, seqs(es)...); err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		m := markerRE.FindString(string(e.Data))
		delete(fx.queued, m)
		fx.acked[m] = true
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if fx.pristine, err = os.ReadFile(path); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fx.pageSize = db.Info().PageSize
	err = db.View(func(tx *bolt.Tx) error {
		for id := 0; ; id++ {
			info, err := tx.Page(id)
			if err != nil || info == nil {
				return err
			}
			fx.types = append(fx.types, info.Type)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	fx.root, fx.freelist = rootAndFreelist(fx.pristine, fx.pageSize)
	return fx
}

// rootAndFreelist reads the page ids of the root bucket and of the freelist
// from the newest of a bbolt file's two meta pages.
func rootAndFreelist(img []byte, pageSize int) (root, freelist int) {
	var txid uint64
	for _, off := range []int{0, pageSize} {
		m := img[off+16:]
		if id := binary.NativeEndian.Uint64(m[48:]); id >= txid {
			txid = id
			root = int(binary.NativeEndian.Uint64(m[16:]))
			freelist = int(binary.NativeEndian.Uint64(m[32:]))
		}
	}
	return root, freelist
}

// pagesOf returns the ids of pages of type typ holding records (or none).
func (fx *damageFixture) pagesOf(typ string, withRecords bool) []int {
	var out []int
	for id, ty := range fx.types {
		if ty == typ && (markerRE.Match(fx.page(id)) == withRecords) {
			out = append(out, id)
		}
	}
	return out
}

func (fx *damageFixture) page(id int) []byte {
	return fx.pristine[id*fx.pageSize : (id+1)*fx.pageSize]
}

// mayLose returns the markers that live in the damaged pages: those records
// may be lost. Records anywhere else must survive.
func (fx *damageFixture) mayLose(pages []int) map[string]bool {
	out := map[string]bool{}
	for _, id := range pages {
		if fx.types[id] != "leaf" {
			continue
		}
		for _, m := range markerRE.FindAll(fx.page(id), -1) {
			out[string(m)] = true
		}
	}
	return out
}

// TestDamagedPagesSalvaged overwrites pages in the middle of a real buffer
// file (queue leaves, branch pages, index pages, the root bucket's page, the
// freelist, random pages; with random bytes or zeros) and checks that the
// agent's path never panics: buffer stats and dump survive the damaged file,
// Open and the drain (Next/Ack) move it aside and salvage it, a Recovery
// report says what was lost, and every record outside the damaged pages is
// delivered.
func TestDamagedPagesSalvaged(t *testing.T) {
	t.Parallel()
	fx := buildDamageFixture(t)
	leaves, branches := fx.pagesOf("leaf", true), fx.pagesOf("branch", false)
	otherLeaves := fx.pagesOf("leaf", false)
	if len(leaves) < 20 || len(branches) == 0 || len(otherLeaves) == 0 {
		t.Fatalf("fixture too small: %d record leaves, %d branches, %d other leaves", len(leaves), len(branches), len(otherLeaves))
	}
	rnd := rand.New(rand.NewPCG(8, 1))
	randomPages := func(n int) []int {
		var out []int
		for range n {
			out = append(out, 2+rnd.IntN(len(fx.types)-2))
		}
		return out
	}
	tests := []struct {
		name  string
		pages []int
		zero  bool
	}{
		{"queue leaf random", []int{leaves[len(leaves)/2]}, false},
		{"queue leaf zeroed", []int{leaves[len(leaves)/3]}, true},
		{"first and last queue leaves", []int{leaves[0], leaves[len(leaves)-1]}, false},
		{"branch page random", []int{branches[0]}, false},
		{"every branch page zeroed", branches, true},
		{"index pages zeroed", otherLeaves[:min(3, len(otherLeaves))], true},
		{"root bucket page random", []int{fx.root}, false},
		{"freelist page zeroed", []int{fx.freelist}, true},
		{"five random pages", randomPages(5), false},
		{"three random pages zeroed", randomPages(3), true},
		{"leaves and a branch", []int{leaves[5], leaves[6], branches[len(branches)-1]}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := tempPath(t)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			img := bytes.Clone(fx.pristine)
			prnd := rand.New(rand.NewPCG(uint64(len(tc.name)), uint64(tc.pages[0])))
			for _, id := range tc.pages {
				pg := img[id*fx.pageSize : (id+1)*fx.pageSize]
				for i := range pg {
					pg[i] = 0
					if !tc.zero {
						pg[i] = byte(prnd.IntN(256))
					}
				}
			}
			writeFile(t, path, img)
			mayLose := fx.mayLose(tc.pages)

			// The offline commands survive the damaged file and
			// write every record outside the damaged pages.
			_, statsErr := buffer.ReadStats(path)
			var dump bytes.Buffer
			dumpErr := buffer.Dump(path, &dump, 0)
			if statsErr != nil && !errors.Is(statsErr, buffer.ErrCorrupt) {
				t.Errorf("ReadStats: %v", statsErr)
			}
			dumped := map[string]bool{}
			for _, m := range markerRE.FindAllString(dump.String(), -1) {
				dumped[m] = true
			}
			for m := range fx.queued {
				if !dumped[m] && !mayLose[m] {
					t.Errorf("Dump (err %v) did not write %s, outside the damaged pages", dumpErr, m)
					break
				}
			}

			var logs bytes.Buffer
			b := openAt(t, path, buffer.Options{Logger: slogTo(&logs), CompactBelow: -1})
			got := drainAll(t, b)
			reps, err := b.Recoveries(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			st := checkBalance(t, b)
			var lost, dups, stale int
			for m := range fx.queued {
				switch {
				case got[m] == 0 && mayLose[m]:
					lost++
				case got[m] == 0:
					t.Errorf("record %s outside the damaged pages was not delivered", m)
				case got[m] > 1:
					dups++
				}
			}
			possibleDup := slices.ContainsFunc(reps, func(r buffer.Recovery) bool { return r.PossibleDuplicates })
			for m := range got {
				if fx.acked[m] {
					stale++
				}
			}
			if (dups > 0 || stale > 0) && !possibleDup {
				t.Errorf("%d records delivered twice and %d delivered before came back, without a report saying so", dups, stale)
			}
			if lost > 0 && len(reps) == 0 {
				t.Errorf("%d records lost and no Recovery report", lost)
			}
			if len(reps) > 0 {
				if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), reps[0].MovedTo) {
					t.Errorf("no Error log naming %s", reps[0].MovedTo)
				}
				if reps[0].LostKnown && reps[0].Lost != uint64(lost) {
					t.Errorf("report says %d lost, %d were", reps[0].Lost, lost)
				}
			}
			t.Logf("pages %v: %d queued, %d in damaged pages, %d lost, %d delivered (%d stale), dropped %v, reports %d, stats err %v",
				tc.pages, len(fx.queued), len(mayLose), lost, len(got), stale, st.Dropped, len(reps), firstLineOf(statsErr))
			for _, r := range reps {
				t.Logf("  report: reason %s, salvaged %d, lost %d (known %v), damaged pages %d, possible duplicates %v",
					r.Reason, r.Salvaged, r.Lost, r.LostKnown, r.DamagedPages, r.PossibleDuplicates)
			}
		})
	}
}

// drainAll reads and acks everything, as the uplink does, and counts the
// markers delivered.
func drainAll(t *testing.T, b *buffer.Buffer) map[string]int {
	t.Helper()
	got := map[string]int{}
	var after uint64
	for {
		es := mustNext(t, b, after, 100, 0)
		if len(es) == 0 {
			return got
		}
		for _, e := range es {
			got[markerRE.FindString(string(e.Data))]++
		}
		mustAck(t, b, seqs(es)...)
		after = es[len(es)-1].Seq
	}
}

func firstLineOf(err error) string {
	if err == nil {
		return "<nil>"
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// TestFlippedBytesDropped flips one byte inside stored records (in the
// payload, and in the header or labels) of a closed file: bbolt does not
// notice, the record checksum does. Those records are never handed out, are
// counted as dropped with reason "corrupt", and every other record is
// delivered.
func TestFlippedBytesDropped(t *testing.T) {
	t.Parallel()
	fx := buildDamageFixture(t)
	img := bytes.Clone(fx.pristine)
	flipped := map[string]bool{}
	for _, id := range fx.pagesOf("leaf", true) {
		if len(flipped) == 12 {
			break
		}
		pg := img[id*fx.pageSize : (id+1)*fx.pageSize]
		loc := markerRE.FindIndex(pg)
		m := string(pg[loc[0]:loc[1]])
		if !fx.queued[m] {
			continue
		}
		off := loc[1] + 5 // inside the padding
		if len(flipped)%2 == 1 {
			off = loc[0] - 20 // before the payload: priority or labels
		}
		pg[off] ^= 0x04
		flipped[m] = true
	}
	path := tempPath(t)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, img)

	var dump bytes.Buffer
	if err := buffer.Dump(path, &dump, 0); !errors.Is(err, buffer.ErrCorrupt) || !strings.Contains(err.Error(), "12 records fail their checksum") {
		t.Errorf("Dump error = %v, want ErrCorrupt naming 12 records", err)
	}
	for m := range flipped {
		if strings.Contains(dump.String(), m) {
			t.Errorf("Dump wrote damaged record %s", m)
		}
	}

	b := openAt(t, path, buffer.Options{})
	got := drainAll(t, b)
	for m := range fx.queued {
		switch {
		case flipped[m] && got[m] > 0:
			t.Errorf("damaged record %s was handed out", m)
		case !flipped[m] && got[m] != 1:
			t.Errorf("record %s delivered %d times, want 1", m, got[m])
		}
	}
	st := checkBalance(t, b)
	if st.Dropped[buffer.ReasonCorrupt] != uint64(len(flipped)) || st.Queued != 0 {
		t.Errorf("stats %+v: want %d dropped as corrupt and none queued", st, len(flipped))
	}
	if reps, _ := b.Recoveries(context.Background()); len(reps) != 0 {
		t.Errorf("damaged records made a file recovery: %+v", reps)
	}
}

// TestDamageWhileRunning overwrites a queue page of the file while the
// buffer has it open (the disk changed under the agent): the reader that
// meets it makes the writer salvage the file, Recovered fires, writes go on,
// and every record outside the page is delivered.
func TestDamageWhileRunning(t *testing.T) {
	t.Parallel()
	path := tempPath(t)
	var logs bytes.Buffer
	b := openAt(t, path, buffer.Options{Logger: slogTo(&logs), CompactBelow: -1})
	ctx := context.Background()
	all := map[string]bool{}
	for i := 0; i < 2000; i += 100 {
		var items []buffer.Item
		for j := i; j < i+100; j++ {
			items = append(items, buffer.Item{Stream: "threat", Priority: 4,
				Data: []byte(fmt.Sprintf(`{"m":%s,"pad":"%s"}`, marker(j), strings.Repeat("y", 300)))})
			all[marker(j)] = true
		}
		if err := b.PutWithMeta(ctx, map[string][]byte{"checkpoint/file": []byte(fmt.Sprint(i))}, items...); err != nil {
			t.Fatal(err)
		}
	}
	img, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps := os.Getpagesize()
	// A page in the middle holding records, found by its markers.
	var victim int
	for id := len(img)/ps/2 - 1; id > 2; id-- {
		if markerRE.Match(img[id*ps : (id+1)*ps]) {
			victim = id
			break
		}
	}
	mayLose := map[string]bool{}
	for _, m := range markerRE.FindAll(img[victim*ps:(victim+1)*ps], -1) {
		mayLose[string(m)] = true
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, ps), int64(victim*ps)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	got := drainAll(t, b)
	select {
	case <-b.Recovered():
	default:
		t.Fatal("Recovered did not fire")
	}
	mustPut(t, b, event(`{"m":"after"}`))
	if es := mustNext(t, b, 0, 0, 0); len(es) != 1 || string(es[0].Data) != `{"m":"after"}` {
		t.Fatalf("after recovery: %d entries", len(es))
	}
	lost := 0
	for m := range all {
		if got[m] == 0 {
			if !mayLose[m] {
				t.Errorf("record %s outside the damaged page lost", m)
			}
			lost++
		}
	}
	reps, err := b.Recoveries(ctx)
	if err != nil || len(reps) != 1 || reps[0].Lost != uint64(lost) || !reps[0].LostKnown || reps[0].MetaSalvaged != 1 {
		t.Fatalf("Recoveries = %+v, %v; want one report of %d lost and the checkpoint salvaged", reps, err, lost)
	}
	if v, err := b.Meta(ctx, "checkpoint/file"); string(v) != "1900" || err != nil {
		t.Fatalf("checkpoint after salvage = %q, %v; want 1900", v, err)
	}
	st := checkBalance(t, b)
	if st.Dropped[buffer.ReasonCorrupt] != uint64(lost) {
		t.Errorf("dropped %v, want %d corrupt", st.Dropped, lost)
	}
	// Deleting the report with the record that tells the platform.
	if err := b.PutWithMeta(ctx, map[string][]byte{reps[0].Key: nil}, event(`{"m":"report"}`)); err != nil {
		t.Fatal(err)
	}
	if reps, _ := b.Recoveries(ctx); len(reps) != 0 {
		t.Fatalf("report still pending after delete: %+v", reps)
	}
	t.Logf("page %d zeroed while open: %d records, %d in the page, %d lost, report %+v", victim, len(all), len(mayLose), lost, reps)
}

// TestDamageFoundByStatsAndCompaction: damage under a running buffer found
// by Stats (the root bucket's page) and by an explicit compaction (a queue
// page) is salvaged like damage found by Next: no panic, balanced counters,
// one report per file moved aside.
func TestDamageFoundByStatsAndCompaction(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"stats", "compact"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			path := tempPath(t)
			b := openAt(t, path, buffer.Options{CompactBelow: -1})
			for i := 0; i < 1000; i += 100 {
				var items []buffer.Item
				for j := i; j < i+100; j++ {
					items = append(items, buffer.Item{Stream: "threat", Priority: 4,
						Data: []byte(fmt.Sprintf(`{"m":%s,"pad":"%s"}`, marker(j), strings.Repeat("y", 300)))})
				}
				mustPut(t, b, items...)
			}
			img, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ps := os.Getpagesize()
			victim, _ := rootAndFreelist(img, ps)
			if how == "compact" {
				for id := len(img)/ps/2 - 1; id > 2; id-- {
					if markerRE.Match(img[id*ps : (id+1)*ps]) {
						victim = id
						break
					}
				}
			}
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5}, ps), int64(victim*ps)); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if how == "compact" {
				if err := b.Compact(context.Background()); err != nil {
					t.Fatalf("Compact over a damaged page: %v", err)
				}
			}
			st := checkBalance(t, b)
			reps, err := b.Recoveries(context.Background())
			if err != nil || len(reps) != 1 {
				t.Fatalf("Recoveries = %+v, %v; want one", reps, err)
			}
			if st.Queued != reps[0].Salvaged || st.Queued+reps[0].Lost != 1000 {
				t.Fatalf("queued %d, report %+v: want 1000 records salvaged or lost", st.Queued, reps[0])
			}
			t.Logf("%s: page %d damaged, %d salvaged, %d lost", how, victim, reps[0].Salvaged, reps[0].Lost)
		})
	}
}
