package bounded_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/edgeward/edgeward/collectors/passive/internal/bounded"
)

func TestLRU(t *testing.T) {
	t.Parallel()
	l := bounded.NewLRU[string, int](2)
	var evicted []string
	l.OnEvict = func(n *bounded.Node[string, int]) { evicted = append(evicted, n.Key) }
	a := l.Add("a")
	a.Val = 1
	l.Add("b").Val = 2
	if n, added := l.GetOrAdd("a"); added || n.Val != 1 { // a becomes most recent
		t.Fatalf("GetOrAdd(a) = %+v, %v", n, added)
	}
	l.Add("c") // evicts b, the least recent
	var order []string
	l.Each(func(n *bounded.Node[string, int]) { order = append(order, n.Key) })
	if diff := cmp.Diff([]string{"c", "a"}, order); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b"}, evicted); diff != "" {
		t.Errorf("evicted (-want +got):\n%s", diff)
	}
	if l.Len() != 2 || l.Evicted != 1 || l.Peek("b") != nil || l.Get("a") != a || a.Gone {
		t.Errorf("len %d evicted %d", l.Len(), l.Evicted)
	}
	l.Add("d")
	l.Add("e") // evicts a
	if !a.Gone || l.Get("a") != nil {
		t.Error("evicted node not marked gone")
	}
	if bounded.NewLRU[int, int](0).Add(1) == nil {
		t.Error("a zero bound holds one key")
	}
}

func TestQuiet(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	q := bounded.NewQuiet[string](8, time.Minute)
	type step struct {
		key     string
		at      time.Duration
		ok      bool
		withSup uint64
	}
	for i, s := range []step{
		{"x", 0, true, 0},
		{"x", 10 * time.Second, false, 0},
		{"y", 10 * time.Second, true, 0},
		{"x", 59 * time.Second, false, 0},
		{"x", 60 * time.Second, true, 2},
		{"x", 61 * time.Second, false, 0},
		{"x", -time.Hour, true, 1}, // capture time went back
	} {
		ok, sup := q.Allow(s.key, t0.Add(s.at))
		if ok != s.ok || sup != s.withSup {
			t.Errorf("step %d: Allow(%s, %v) = %v, %d; want %v, %d", i, s.key, s.at, ok, sup, s.ok, s.withSup)
		}
	}
	if q.Len() != 2 {
		t.Errorf("Len = %d", q.Len())
	}
}

func TestQueue(t *testing.T) {
	t.Parallel()
	q := bounded.NewQueue[int](2)
	for i := range 5 {
		q.Push(i)
	}
	if diff := cmp.Diff([]int{0, 1}, q.Take()); diff != "" || q.Dropped != 3 || q.Len() != 0 {
		t.Errorf("take (-want +got):\n%s dropped %d", diff, q.Dropped)
	}
	if q.Take() != nil {
		t.Error("second Take not empty")
	}
}
