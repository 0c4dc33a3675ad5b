package core

import (
	"maps"
	"sync"
	"sync/atomic"
)

// names interns the ids of events and sections that a hold has proven real, so the hold path turns request bytes
// into those ids without allocating. Ids only enter after a successful hold, so a client cannot fill the table
// with made-up ones; past maxNames new ids are simply not kept (and cost an allocation each time, as before).
type names struct {
	m  atomic.Pointer[map[string]string]
	mu sync.Mutex
}

const maxNames = 4096

// get returns b as a string, the interned copy when there is one.
func (n *names) get(b []byte) string {
	if n != nil {
		if m := n.m.Load(); m != nil {
			if s, ok := (*m)[string(b)]; ok { // no allocation: the compiler looks up the bytes
				return s
			}
		}
	}
	return string(b)
}

func (n *names) has(s string) bool {
	m := n.m.Load()
	if m == nil {
		return false
	}
	_, ok := (*m)[s]
	return ok
}

// add keeps s. The table is copied on write: additions are rare (a new event or section), lookups are on every
// request and take no lock.
func (n *names) add(s string) {
	if n.has(s) {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	old := n.m.Load()
	var size int
	if old != nil {
		if _, ok := (*old)[s]; ok {
			return
		}
		size = len(*old)
	}
	if size >= maxNames {
		return
	}
	m := map[string]string{}
	if old != nil {
		m = maps.Clone(*old)
	}
	m[s] = s
	n.m.Store(&m)
}
