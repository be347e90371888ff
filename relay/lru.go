package relay

import "container/list"

// lru is a bounded least-recently-used map. Not safe for concurrent use.
type lru[K comparable, V any] struct {
	size  int
	ll    list.List // front: most recently used
	m     map[K]*list.Element
	evict func(K, V) // optional, called for entries dropped by put
}

type lruEntry[K comparable, V any] struct {
	k K
	v V
}

func newLRU[K comparable, V any](size int) *lru[K, V] {
	return &lru[K, V]{size: max(size, 1), m: make(map[K]*list.Element)}
}

func (l *lru[K, V]) get(k K) (V, bool) {
	if e, ok := l.m[k]; ok {
		l.ll.MoveToFront(e)
		return e.Value.(*lruEntry[K, V]).v, true
	}
	var zero V
	return zero, false
}

func (l *lru[K, V]) put(k K, v V) {
	if e, ok := l.m[k]; ok {
		e.Value.(*lruEntry[K, V]).v = v
		l.ll.MoveToFront(e)
		return
	}
	l.m[k] = l.ll.PushFront(&lruEntry[K, V]{k, v})
	for len(l.m) > l.size {
		last := l.ll.Back()
		en := last.Value.(*lruEntry[K, V])
		l.ll.Remove(last)
		delete(l.m, en.k)
		if l.evict != nil {
			l.evict(en.k, en.v)
		}
	}
}

func (l *lru[K, V]) remove(k K) {
	if e, ok := l.m[k]; ok {
		l.ll.Remove(e)
		delete(l.m, k)
	}
}

func (l *lru[K, V]) len() int { return len(l.m) }
