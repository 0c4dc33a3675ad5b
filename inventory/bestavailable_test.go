package inventory

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// layout builds a SeatLayout from rows drawn as strings: '.' is a free seat, 'x' a taken one.
func layout(rows ...string) SeatLayout {
	l := SeatLayout{Free: func(r, s int) bool { return rows[r][s-1] == '.' }}
	for i, r := range rows {
		l.Rows = append(l.Rows, Row{Row: fmt.Sprint(i + 1), Seats: len(r)})
	}
	return l
}

// picked draws the chosen seats as "row-seat" strings.
func picked(seats []SeatPos) []string {
	var out []string
	for _, p := range seats {
		out = append(out, fmt.Sprintf("%d-%d", p.Row+1, p.Seat))
	}
	return out
}

func TestSelectSeats(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		rows     []string
		q        int
		adjacent bool
		want     string // "" means none
	}{
		{"clean first row", []string{"......", "......"}, 2, false, "1-1 1-2"},
		{"exact run is clean", []string{"xx..xx", "......"}, 2, false, "1-3 1-4"},
		{"no lone single: next row", []string{"...", "...."}, 2, false, "2-1 2-2"},
		{"no lone single: later run in the row", []string{"...x....", "......"}, 2, false, "1-5 1-6"},
		{"first run too short", []string{".x.....", "..."}, 3, false, "1-3 1-4 1-5"},
		{"clean in a later row beats unclean first", []string{"xxx...", "xxxx.."}, 2, true, "2-5 2-6"},
		{"no clean: first placement", []string{"...", "x..."}, 2, false, "1-1 1-2"},
		{"no clean: first placement, adjacent", []string{"x...", "..."}, 2, true, "1-2 1-3"},
		{"split fallback", []string{".x.x.", "x.x"}, 3, false, "1-1 1-3 1-5"},
		{"split across rows", []string{".x.", ".x."}, 3, false, "1-1 1-3 2-1"},
		{"adjacent required, none", []string{".x.x.", "x.x"}, 2, true, ""},
		{"not enough seats", []string{".x.", "x"}, 3, false, ""},
		{"all taken", []string{"xxx"}, 1, false, ""},
		{"single seat", []string{"x.x..", "."}, 1, false, "1-2"},
		{"whole row", []string{"...."}, 4, true, "1-1 1-2 1-3 1-4"},
		{"zero quantity", []string{"...."}, 0, false, ""},
	}
	for _, c := range cases {
		got, ok := SelectSeats(layout(c.rows...), c.q, c.adjacent)
		if s := strings.Join(picked(got), " "); s != c.want || ok != (c.want != "") {
			t.Errorf("%s: SelectSeats(%v, %d, %t) = %q, %t; want %q", c.name, c.rows, c.q, c.adjacent, s, ok, c.want)
		}
	}
}

func TestSelectSeatsSkipsFullRows(t *testing.T) {
	t.Parallel()
	l := layout("xxxx", "x...", "....")
	calls := 0
	free := l.Free
	l.Free = func(r, s int) bool {
		if r == 0 {
			t.Errorf("row 1 read although it has no free seat")
		}
		calls++
		return free(r, s)
	}
	l.FreeInRow = func(r int) int { return []int{0, 3, 4}[r] }
	got, ok := SelectSeats(l, 2, false)
	if !ok || !slices.Equal(picked(got), []string{"3-1", "3-2"}) {
		t.Fatalf("got %v %t", picked(got), ok)
	}
}

// FuzzSelectSeats checks what any answer must be: q distinct free seats, side by side in one row when adjacent
// is asked, and an answer whenever enough seats are free (and, for adjacent, a long enough run exists).
func FuzzSelectSeats(f *testing.F) {
	f.Add("...x..|....|x.x.", 2, false)
	f.Add(".x.x.|x.x", 3, true)
	f.Add("......", 6, true)
	f.Fuzz(func(t *testing.T, drawing string, q int, adjacent bool) {
		rows := strings.Split(drawing, "|")
		for i, r := range rows {
			if len(r) == 0 || len(r) > 64 {
				return
			}
			rows[i] = strings.Map(func(c rune) rune {
				if c == '.' {
					return '.'
				}
				return 'x'
			}, r)
		}
		if len(rows) > 16 || q > 100 {
			return
		}
		l := layout(rows...)
		got, ok := SelectSeats(l, q, adjacent)
		free, longest := 0, 0
		for _, r := range rows {
			run := 0
			for _, c := range r {
				if c == '.' {
					free++
					run++
					longest = max(longest, run)
				} else {
					run = 0
				}
			}
		}
		possible := q > 0 && (adjacent && longest >= q || !adjacent && free >= q)
		if ok != possible {
			t.Fatalf("SelectSeats(%v, %d, %t): ok %t, want %t", rows, q, adjacent, ok, possible)
		}
		if !ok {
			return
		}
		if len(got) != q {
			t.Fatalf("got %d seats, want %d", len(got), q)
		}
		seen := make(map[SeatPos]bool)
		for i, p := range got {
			if seen[p] || !l.Free(p.Row, p.Seat) {
				t.Fatalf("seat %v taken or repeated in %v", p, got)
			}
			seen[p] = true
			if i > 0 && (p.Row < got[i-1].Row || p.Row == got[i-1].Row && p.Seat <= got[i-1].Seat) {
				t.Fatalf("seats out of order: %v", got)
			}
			if adjacent && i > 0 && (p.Row != got[0].Row || p.Seat != got[i-1].Seat+1) {
				t.Fatalf("adjacent seats not side by side: %v", got)
			}
		}
	})
}
