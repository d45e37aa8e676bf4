package opcua

// lru is a bounded map with least-recently-used eviction. Nodes are
// allocated once per key; get and touch do not allocate. Not safe for
// concurrent use.
type lru[K comparable, V any] struct {
	max     int
	m       map[K]*lruNode[K, V]
	root    lruNode[K, V] // sentinel: root.next is the most recent
	evicted uint64
	onEvict func(*lruNode[K, V])
}

type lruNode[K comparable, V any] struct {
	key        K
	val        V
	prev, next *lruNode[K, V]
	gone       bool // evicted: holders of the pointer must look the key up again
}

func newLRU[K comparable, V any](max int) *lru[K, V] {
	if max < 1 {
		max = 1
	}
	l := &lru[K, V]{max: max, m: make(map[K]*lruNode[K, V])}
	l.root.next, l.root.prev = &l.root, &l.root
	return l
}

func (l *lru[K, V]) len() int { return len(l.m) }

// get returns the node of k, marking it most recent.
func (l *lru[K, V]) get(k K) *lruNode[K, V] {
	n := l.m[k]
	if n != nil {
		l.touch(n)
	}
	return n
}

// peek returns the node of k without changing the order.
func (l *lru[K, V]) peek(k K) *lruNode[K, V] { return l.m[k] }

// touch marks n most recent.
func (l *lru[K, V]) touch(n *lruNode[K, V]) {
	if l.root.next == n {
		return
	}
	n.prev.next, n.next.prev = n.next, n.prev
	n.next, n.prev = l.root.next, &l.root
	l.root.next.prev = n
	l.root.next = n
}

// add inserts k (which must be absent) as most recent, evicting the least
// recent entry when full, and returns its node with a zero value.
func (l *lru[K, V]) add(k K) *lruNode[K, V] {
	if len(l.m) >= l.max {
		old := l.root.prev
		old.prev.next, old.next.prev = old.next, old.prev
		old.gone = true
		delete(l.m, old.key)
		l.evicted++
		if l.onEvict != nil {
			l.onEvict(old)
		}
	}
	n := &lruNode[K, V]{key: k}
	n.next, n.prev = l.root.next, &l.root
	l.root.next.prev = n
	l.root.next = n
	l.m[k] = n
	return n
}

// getOrAdd returns the node of k, adding it when absent.
func (l *lru[K, V]) getOrAdd(k K) (n *lruNode[K, V], added bool) {
	if n = l.get(k); n != nil {
		return n, false
	}
	return l.add(k), true
}

// each calls fn from the most to the least recent entry.
func (l *lru[K, V]) each(fn func(*lruNode[K, V])) {
	for n := l.root.next; n != &l.root; n = n.next {
		fn(n)
	}
}
