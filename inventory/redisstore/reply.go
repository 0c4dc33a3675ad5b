package redisstore

import (
	"strings"
	"sync/atomic"

	"github.com/onsale/onsale/inventory"
)

// slab hands out short slices of shared chunks, so a hold's lines, seats and keys cost an allocation per many holds
// instead of one each. A slice kept keeps its whole chunk alive, which holds (answered, encoded, dropped) make cheap.
// Each slice is its taker's alone: a chunk's regions never overlap and are never handed out twice.
type slab[T any] struct {
	size int // values per chunk
	max  int // the longest slice served from a chunk; longer ones are allocated on their own
	cur  atomic.Pointer[slabChunk[T]]
}

type slabChunk[T any] struct {
	next  atomic.Int64 // the end of the last region handed out
	items []T
}

// take returns n zero values whose capacity is n, so an append never reaches a neighbour's region.
func (s *slab[T]) take(n int) []T {
	if n > s.max {
		return make([]T, n)
	}
	if c := s.cur.Load(); c != nil {
		if end := c.next.Add(int64(n)); end <= int64(len(c.items)) {
			return c.items[end-int64(n) : end : end]
		}
	}
	// A chunk replaced by another taker's meanwhile is only a chunk whose rest goes unused.
	c := &slabChunk[T]{items: make([]T, s.size)}
	c.next.Store(int64(n))
	s.cur.Store(c)
	return c.items[:n:n]
}

var (
	lineSlab = slab[inventory.Line]{size: 64, max: 8}
	seatSlab = slab[string]{size: 256, max: 16}
	callSlab = slab[byte]{size: 8192, max: 512} // a hold call's keys, id and spec
)

// readLines reads a hold's lines, "<sec>:<quantity>:<unit price>" separated by ';' (empty ones skipped), with their
// sums; a malformed number is f.err.
func (f *holdFields) readLines() (lines []inventory.Line, units int, total int64) {
	s := f.lines
	if s == "" {
		return nil, 0, 0
	}
	lines = lineSlab.take(strings.Count(s, ";") + 1)[:0]
	for s != "" {
		part := s
		if i := strings.IndexByte(s, ';'); i >= 0 {
			part, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if part == "" {
			continue
		}
		sec, rest := cutByte(part, ':')
		q, price := cutByte(rest, ':')
		l := inventory.Line{Section: sec, Quantity: int(f.small(q)), UnitPrice: f.small(price)}
		l.Amount = l.UnitPrice * int64(l.Quantity)
		lines = append(lines, l)
		units += l.Quantity
		total += l.Amount
	}
	if len(lines) == 0 {
		return nil, 0, 0
	}
	return lines, units, total
}

// cutByte is strings.Cut for one byte, which strings.Cut looks for as a string.
func cutByte(s string, sep byte) (before, after string) {
	if i := strings.IndexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// small reads a stored integer, the common short unsigned ones without strconv.
func (f *holdFields) small(s string) int64 {
	if len(s) == 0 || len(s) > 18 {
		return f.num(s)
	}
	var n int64
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return f.num(s)
		}
		n = n*10 + int64(d)
	}
	return n
}

// readSeats splits a hold's seats, separated by single spaces.
func readSeats(s string) []string {
	if s == "" {
		return nil
	}
	seats := seatSlab.take(strings.Count(s, " ") + 1)
	for i := range len(seats) - 1 {
		j := strings.IndexByte(s, ' ')
		seats[i], s = s[:j], s[j+1:]
	}
	seats[len(seats)-1] = s
	return seats
}
