package collectors

import (
	"regexp"
	"sort"
	"testing"
	"time"
)

var ulidRE = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`)

func TestIDSourceSortableAndUnique(t *testing.T) {
	t.Parallel()
	var s IDSource
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	var ids []string
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		// Time goes backwards now and then; ids must still increase.
		ts := now.Add(time.Duration(i%7-3) * time.Millisecond)
		id := s.New(ts)
		if !ulidRE.MatchString(id) {
			t.Fatalf("id %q is not a ULID", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("ids from one source are not in increasing order")
	}
}

func TestEncodeULIDTime(t *testing.T) {
	t.Parallel()
	var s IDSource
	a := s.New(time.UnixMilli(1))
	b := s.New(time.UnixMilli(1 << 40))
	if a[:10] != "0000000001" {
		t.Errorf("time part of ms=1: got %q, want 0000000001", a[:10])
	}
	if a >= b {
		t.Errorf("id at a later time sorts first: %q >= %q", a, b)
	}
}

func TestRecordValidate(t *testing.T) {
	t.Parallel()
	body := map[string]any{"x": 1}
	cases := []struct {
		name string
		r    Record
		ok   bool
	}{
		{"state with key", Record{Class: ClassAsset, Kind: "net.asset", Key: "k", Body: body}, true},
		{"event without key", Record{Class: ClassThreat, Kind: "modbus.scan", Body: body}, true},
		{"state without key", Record{Class: ClassAsset, Kind: "net.asset", Body: body}, false},
		{"bad class", Record{Class: "nope", Kind: "x.y", Key: "k", Body: body}, false},
		{"no kind", Record{Class: ClassThreat, Body: body}, false},
		{"no body", Record{Class: ClassThreat, Kind: "x.y"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
