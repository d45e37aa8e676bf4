// Package bounded holds the bounded containers the protocol analyzers of
// collectors/passive (modbus, opcua) share: an LRU map, a per-key quiet
// window for repeated alerts, and a capped queue. Standard library only;
// none of them is safe for concurrent use.
package bounded

import "time"

// LRU is a map bounded to a maximum number of keys with least recently
// used eviction. Nodes are allocated once per key; Get, Peek and Touch do
// not allocate.
type LRU[K comparable, V any] struct {
	max  int
	m    map[K]*Node[K, V]
	root Node[K, V] // sentinel: root.next is the most recent
	// Evicted counts the entries evicted so far.
	Evicted uint64
	// OnEvict, when set, is called with each evicted node.
	OnEvict func(*Node[K, V])
}

// Node is one entry of an LRU. A holder of a node pointer must check Gone
// before using it: an evicted node is no longer in the map.
type Node[K comparable, V any] struct {
	Key        K
	Val        V
	prev, next *Node[K, V]
	// Gone is set when the node is evicted.
	Gone bool
}

// NewLRU returns an empty LRU holding at most max keys (at least 1).
func NewLRU[K comparable, V any](max int) *LRU[K, V] {
	if max < 1 {
		max = 1
	}
	l := &LRU[K, V]{max: max, m: make(map[K]*Node[K, V])}
	l.root.next, l.root.prev = &l.root, &l.root
	return l
}

// Len returns the number of keys held.
func (l *LRU[K, V]) Len() int { return len(l.m) }

// Get returns the node of k (nil when absent), marking it most recent.
func (l *LRU[K, V]) Get(k K) *Node[K, V] {
	n := l.m[k]
	if n != nil {
		l.Touch(n)
	}
	return n
}

// Peek returns the node of k without changing the order.
func (l *LRU[K, V]) Peek(k K) *Node[K, V] { return l.m[k] }

// Touch marks n most recent.
func (l *LRU[K, V]) Touch(n *Node[K, V]) {
	if l.root.next == n {
		return
	}
	n.prev.next, n.next.prev = n.next, n.prev
	n.next, n.prev = l.root.next, &l.root
	l.root.next.prev = n
	l.root.next = n
}

// Add inserts k, which must be absent, as most recent, evicting the least
// recent entry when full, and returns its node with a zero value.
func (l *LRU[K, V]) Add(k K) *Node[K, V] {
	if len(l.m) >= l.max {
		old := l.root.prev
		old.prev.next, old.next.prev = old.next, old.prev
		old.Gone = true
		delete(l.m, old.Key)
		l.Evicted++
		if l.OnEvict != nil {
			l.OnEvict(old)
		}
	}
	n := &Node[K, V]{Key: k}
	n.next, n.prev = l.root.next, &l.root
	l.root.next.prev = n
	l.root.next = n
	l.m[k] = n
	return n
}

// GetOrAdd returns the node of k, adding it when absent.
func (l *LRU[K, V]) GetOrAdd(k K) (n *Node[K, V], added bool) {
	if n = l.Get(k); n != nil {
		return n, false
	}
	return l.Add(k), true
}

// Each calls fn from the most to the least recent entry. fn must not add
// or remove entries.
func (l *LRU[K, V]) Each(fn func(*Node[K, V])) {
	for n := l.root.next; n != &l.root; n = n.next {
		fn(n)
	}
}

// Quiet lets a repeated alert through at most once per window per key and
// counts the ones it holds back. Its keys live in an LRU: a key evicted
// while quiet fires again on its next occurrence.
type Quiet[K comparable] struct {
	window time.Duration
	t      *LRU[K, quietState]
}

type quietState struct {
	last       time.Time
	suppressed uint64
}

// NewQuiet returns a Quiet of window remembering at most max keys.
func NewQuiet[K comparable](max int, window time.Duration) *Quiet[K] {
	return &Quiet[K]{window: window, t: NewLRU[K, quietState](max)}
}

// Allow reports whether an alert of key k may fire at ts: the first time,
// when the last one that fired is at least a window older, or when ts is
// earlier than it (capture time went back, as when files are replayed out
// of order). When it may, it also returns how many alerts of k were held
// back since the last one fired.
func (q *Quiet[K]) Allow(k K, ts time.Time) (bool, uint64) {
	n, added := q.t.GetOrAdd(k)
	s := &n.Val
	if !added && !ts.Before(s.last) && ts.Sub(s.last) < q.window {
		s.suppressed++
		return false, 0
	}
	sup := s.suppressed
	s.last, s.suppressed = ts, 0
	return true, sup
}

// Len returns the number of keys remembered.
func (q *Quiet[K]) Len() int { return q.t.Len() }

// Queue holds at most max items between two Take calls and counts the
// items it had to drop.
type Queue[T any] struct {
	max   int
	items []T
	// Dropped counts the items pushed while the queue was full.
	Dropped uint64
}

// NewQueue returns an empty Queue of at most max items.
func NewQueue[T any](max int) *Queue[T] { return &Queue[T]{max: max} }

// Push appends v, or drops and counts it when max items are waiting.
func (q *Queue[T]) Push(v T) {
	if len(q.items) >= q.max {
		q.Dropped++
		return
	}
	q.items = append(q.items, v)
}

// Take returns the items pushed since the last call, oldest first, and
// empties the queue.
func (q *Queue[T]) Take() []T {
	out := q.items
	q.items = nil
	return out
}

// Len returns the number of items waiting.
func (q *Queue[T]) Len() int { return len(q.items) }
