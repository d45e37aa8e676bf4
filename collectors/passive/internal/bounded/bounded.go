// Package bounded holds the bounded containers the protocol analyzers of
// collectors/passive (modbus, opcua) share: an LRU map, a per-key quiet
// window for repeated alerts, and a capped queue. Standard library only;
// none of them is safe for concurrent use.
package bounded

import (
	"time"
	"unsafe"
)

// LRU is a map bounded to a maximum number of keys, and optionally to a
// number of bytes, with least recently used eviction. Nodes are allocated
// once per key; Get, Peek and Touch do not allocate.
type LRU[K comparable, V any] struct {
	max  int
	m    map[K]*Node[K, V]
	root Node[K, V] // sentinel: root.next is the most recent
	// Evicted counts the entries evicted so far.
	Evicted uint64
	// OnEvict, when set, is called with each evicted node.
	OnEvict func(*Node[K, V])

	// byte budget (SetBudget)
	maxBytes int
	bytes    int
	size     func(*V) int
	last     *Node[K, V] // the entry measured last: measured again first
}

// Node is one entry of an LRU. A holder of a node pointer must check Gone
// before using it: an evicted node is no longer in the map, and its value
// has been reset to the zero value (so that a holder keeps only the node).
type Node[K comparable, V any] struct {
	Key        K
	Val        V
	prev, next *Node[K, V]
	size       int // bytes counted for this entry (byte budget)
	// Gone is set when the node is evicted.
	Gone bool
}

// NodeBytes is what an entry of an LRU[K, V] costs besides the memory its
// value points to: the node and its map slot.
func NodeBytes[K comparable, V any]() int {
	var k K
	return int(unsafe.Sizeof(Node[K, V]{})+unsafe.Sizeof(k)) + 16
}

// SetBudget bounds the LRU to maxBytes as well: an entry costs NodeBytes
// plus size(&Val), measured when it is added and whenever it is touched
// (Get, GetOrAdd, Touch), and the entry touched before it is measured
// again then (its holder may have made it grow after the touch); the least
// recently used entries are evicted while the total exceeds maxBytes. The
// entry just touched stays, so the total can exceed maxBytes by what the
// most recent entry grew since it was touched, or when one entry alone is
// larger. Call it before the first Add.
func (l *LRU[K, V]) SetBudget(maxBytes int, size func(*V) int) {
	l.maxBytes, l.size = maxBytes, size
}

// Bytes returns the bytes counted for the entries (0 without a budget).
func (l *LRU[K, V]) Bytes() int {
	if l.last != nil {
		l.resize(l.last)
	}
	return l.bytes
}

// measure recounts the bytes of the previously measured entry and of n and
// evicts least recent entries other than n while the budget is exceeded.
func (l *LRU[K, V]) measure(n *Node[K, V]) {
	if l.size == nil {
		return
	}
	if l.last != nil && l.last != n {
		l.resize(l.last)
	}
	l.resize(n)
	l.last = n
	for l.bytes > l.maxBytes && l.root.prev != n && l.root.prev != &l.root {
		l.evict(l.root.prev)
	}
}

func (l *LRU[K, V]) resize(n *Node[K, V]) {
	sz := NodeBytes[K, V]() + l.size(&n.Val)
	l.bytes += sz - n.size
	n.size = sz
}

// evict removes n.
func (l *LRU[K, V]) evict(n *Node[K, V]) {
	n.prev.next, n.next.prev = n.next, n.prev
	n.prev, n.next = nil, nil
	n.Gone = true
	delete(l.m, n.Key)
	l.bytes -= n.size
	if l.last == n {
		l.last = nil
	}
	l.Evicted++
	if l.OnEvict != nil {
		l.OnEvict(n)
	}
	var zero V
	n.Val = zero
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

// Touch marks n most recent (and measures it, with a byte budget). n must
// not be Gone.
func (l *LRU[K, V]) Touch(n *Node[K, V]) {
	if l.root.next != n {
		n.prev.next, n.next.prev = n.next, n.prev
		n.next, n.prev = l.root.next, &l.root
		l.root.next.prev = n
		l.root.next = n
	}
	l.measure(n)
}

// Add inserts k, which must be absent, as most recent, evicting the least
// recent entry when full, and returns its node with a zero value.
func (l *LRU[K, V]) Add(k K) *Node[K, V] {
	if len(l.m) >= l.max {
		l.evict(l.root.prev)
	}
	n := &Node[K, V]{Key: k}
	n.next, n.prev = l.root.next, &l.root
	l.root.next.prev = n
	l.root.next = n
	l.m[k] = n
	l.measure(n)
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
