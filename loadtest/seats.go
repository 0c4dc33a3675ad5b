package loadtest

import (
	"strconv"
	"strings"
	"sync"
)

// seatMap is the generator's guess of which seats are taken, so fans naming seats pick ones that may be free, as a
// fan looking at a seat map would. It learns from the fans' own holds and from seats-unavailable answers.
type seatMap struct {
	mu       sync.Mutex
	sections map[string]*seatSection
}

type seatSection struct {
	rows  []RowSpec
	index map[string]int // row name → index
	taken [][]bool       // [row][seat-1]
}

func newSeatMap(sections []SectionSpec) *seatMap {
	m := &seatMap{sections: map[string]*seatSection{}}
	for _, s := range sections {
		if s.Kind != "seated" {
			continue
		}
		ss := &seatSection{rows: s.Rows, index: map[string]int{}}
		for i, r := range s.Rows {
			ss.index[r.Row] = i
			ss.taken = append(ss.taken, make([]bool, max(r.Seats, 0)))
		}
		m.sections[s.ID] = ss
	}
	return m
}

// pick returns qty side-by-side seats of a section that look free, or nil when there are none.
func (m *seatMap) pick(f *fan, section string, qty int) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.sections[section]
	if ss == nil || len(ss.rows) == 0 || qty < 1 {
		return nil
	}
	seats := func(ri, start int) []string {
		out := make([]string, qty)
		for i := range qty {
			out[i] = section + "-" + ss.rows[ri].Row + "-" + strconv.Itoa(start+i+1)
		}
		return out
	}
	// A few random looks first, like a fan's eye on the map; then a scan from a random row, so free seats are
	// found whenever there are any.
	for range 4 {
		ri := f.intn(len(ss.rows))
		row := ss.taken[ri]
		if len(row) < qty {
			continue
		}
		start := f.intn(len(row) - qty + 1)
		if freeRun(row, start, qty) {
			return seats(ri, start)
		}
	}
	first := f.intn(len(ss.rows))
	for k := range ss.rows {
		ri := (first + k) % len(ss.rows)
		row := ss.taken[ri]
		for start := 0; start+qty <= len(row); start++ {
			if freeRun(row, start, qty) {
				return seats(ri, start)
			}
		}
	}
	return nil
}

func freeRun(row []bool, start, qty int) bool {
	for i := start; i < start+qty; i++ {
		if row[i] {
			return false
		}
	}
	return true
}

// mark records seats as taken or free again.
func (m *seatMap) mark(seats []string, taken bool) {
	if len(seats) == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range seats {
		sec, row, n, ok := splitSeat(s)
		if !ok {
			continue
		}
		ss := m.sections[sec]
		if ss == nil {
			continue
		}
		ri, ok := ss.index[row]
		if !ok || n < 1 || n > len(ss.taken[ri]) {
			continue
		}
		ss.taken[ri][n-1] = taken
	}
}

// splitSeat reads a seat id <section>-<row>-<n>; the section may itself contain dashes, the row and number not.
func splitSeat(id string) (section, row string, n int, ok bool) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 {
		return "", "", 0, false
	}
	n, err := strconv.Atoi(id[i+1:])
	if err != nil {
		return "", "", 0, false
	}
	j := strings.LastIndexByte(id[:i], '-')
	if j <= 0 || j+1 == i {
		return "", "", 0, false
	}
	return id[:j], id[j+1 : i], n, true
}
