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

// TestLRUBudget: with a byte budget, entries are measured when added and
// touched (and the entry touched before is measured again), the least
// recent ones are evicted while the total exceeds the budget, the one just
// touched stays, and an evicted node keeps no value.
func TestLRUBudget(t *testing.T) {
	t.Parallel()
	node := bounded.NodeBytes[string, []byte]()
	l := bounded.NewLRU[string, []byte](100)
	l.SetBudget(3*node+300, func(v *[]byte) int { return cap(*v) })
	a := l.Add("a")
	a.Val = make([]byte, 100)
	b := l.Add("b") // measures a again: 2 nodes + 100
	if got := l.Bytes(); got != 2*node+100 {
		t.Fatalf("Bytes = %d, want %d", got, 2*node+100)
	}
	b.Val = make([]byte, 150)
	l.Add("c").Val = make([]byte, 50) // a, b, c: 3 nodes + 300 = the budget
	if l.Len() != 3 || l.Bytes() != 3*node+300 || l.Evicted != 0 {
		t.Fatalf("len %d bytes %d evicted %d", l.Len(), l.Bytes(), l.Evicted)
	}
	l.Touch(a) // a is most recent; c measured again
	a.Val = make([]byte, 200)
	l.Touch(a) // a grew by 100: b, the least recent, is evicted
	var order []string
	l.Each(func(n *bounded.Node[string, []byte]) { order = append(order, n.Key) })
	if diff := cmp.Diff([]string{"a", "c"}, order); diff != "" {
		t.Errorf("after growth (-want +got):\n%s", diff)
	}
	if !b.Gone || b.Val != nil || l.Evicted != 1 || l.Bytes() != 2*node+250 {
		t.Errorf("b gone %v val %d bytes; evicted %d; bytes %d", b.Gone, len(b.Val), l.Evicted, l.Bytes())
	}
	a.Val = make([]byte, 1000) // one entry alone over the budget stays
	l.Touch(a)
	if l.Len() != 1 || a.Gone || l.Evicted != 2 {
		t.Errorf("the entry just touched was evicted")
	}
}
