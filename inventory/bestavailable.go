package inventory

// SeatPos is a seat of a seated section: Row indexes the section's rows (0-based, in definition order), Seat is the
// seat number in that row (1-based).
type SeatPos struct {
	Row  int
	Seat int
}

// SeatLayout is what SelectSeats needs to know of a seated section.
type SeatLayout struct {
	Rows []Row
	// Free reports whether a seat is free (not held, sold or withheld).
	Free func(row, seat int) bool
	// FreeInRow, when set, returns how many seats of a row are free, so rows that cannot serve are skipped.
	FreeInRow func(row int) int
}

// SelectSeats picks q seats by the best-available rule. Rows are in definition order (the first is the best);
// within a row the free runs are in seat order, and a placement is the left edge of a run of length L ≥ q. A
// placement is clean when L == q or L-q ≥ 2, so it leaves no lone single seat. The choice is the first clean
// placement (row order, then run order); failing that the first placement at all; failing that, unless adjacent
// is required, the first q free seats in row then seat order (split). ok is false when nothing fits.
func SelectSeats(l SeatLayout, q int, adjacent bool) (seats []SeatPos, ok bool) {
	if q <= 0 {
		return nil, false
	}
	firstRow, firstSeat := -1, 0 // the first placement seen, clean or not
	for r, row := range l.Rows {
		if row.Seats < q || (l.FreeInRow != nil && l.FreeInRow(r) < q) {
			continue
		}
		for s := 1; s <= row.Seats; {
			if !l.Free(r, s) {
				s++
				continue
			}
			start := s
			for s <= row.Seats && l.Free(r, s) {
				s++
			}
			run := s - start
			if run < q {
				continue
			}
			if run == q || run-q >= 2 {
				return span(r, start, q), true
			}
			if firstRow < 0 {
				firstRow, firstSeat = r, start
			}
		}
	}
	if firstRow >= 0 {
		return span(firstRow, firstSeat, q), true
	}
	if adjacent {
		return nil, false
	}
	seats = make([]SeatPos, 0, q)
	for r, row := range l.Rows {
		if l.FreeInRow != nil && l.FreeInRow(r) == 0 {
			continue
		}
		for s := 1; s <= row.Seats; s++ {
			if l.Free(r, s) {
				seats = append(seats, SeatPos{r, s})
				if len(seats) == q {
					return seats, true
				}
			}
		}
	}
	return nil, false
}

func span(row, start, q int) []SeatPos {
	seats := make([]SeatPos, q)
	for i := range seats {
		seats[i] = SeatPos{row, start + i}
	}
	return seats
}
