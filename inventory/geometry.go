package inventory

import (
	"fmt"
	"math"
	"slices"
)

// Geometry of seated sections: where a seat map draws each seat. A unit is one seat's width; x grows to the right
// and y towards the back of the venue, as on a screen. A row is straight or an arc of a circle, placed by its seat
// 1, with gaps for aisles. Holds never read any of it.

// Limits of a seat map.
const (
	MaxCoordinate = 100_000 // |x| and |y| of any seat
	MinSpacing    = 0.5     // closer seats would overlap
	MaxSpacing    = 100
	MaxGapWidth   = 100 // in spacings
	// MinSeatDistance is how close two seats' centres may be: half a seat width, so a map can tell them apart.
	MinSeatDistance = 0.5
)

// Default placement of a section without geometry: its rows stacked RowPitch apart, centred on the longest, and
// sections stacked SectionGap apart below whatever has geometry.
const (
	RowPitch   = 1.5
	SectionGap = 3
)

// Point is a seat's centre.
type Point struct{ X, Y float64 }

// HasGeometry reports whether a row says anything of where it is.
func (r *Row) HasGeometry() bool {
	return r.X != 0 || r.Y != 0 || r.Angle != 0 || r.Spacing != 0 || r.Radius != 0 || len(r.Gaps) > 0
}

// HasGeometry reports whether any row of the section is placed.
func (sec *Section) HasGeometry() bool {
	return slices.ContainsFunc(sec.Rows, func(r Row) bool { return r.HasGeometry() })
}

// spacing is the row's seat spacing, defaulted.
func (r *Row) spacing() float64 {
	if r.Spacing == 0 {
		return 1
	}
	return r.Spacing
}

// length is the distance along the row from seat 1 to its last seat.
func (r *Row) length() float64 {
	n := float64(r.Seats - 1)
	for _, g := range r.Gaps {
		n += gapWidth(g)
	}
	return n * r.spacing()
}

func gapWidth(g Gap) float64 {
	if g.Width == 0 {
		return 1
	}
	return g.Width
}

// Positions appends the centres of the row's seats 1..Seats to dst.
func (r *Row) Positions(dst []Point) []Point {
	s := r.spacing()
	chord := r.Angle * math.Pi / 180
	gaps := r.Gaps
	if !slices.IsSortedFunc(gaps, func(a, b Gap) int { return a.After - b.After }) {
		gaps = slices.SortedFunc(slices.Values(gaps), func(a, b Gap) int { return a.After - b.After })
	}
	along := func(i int) float64 { // distance of seat i (1-based) from seat 1
		d := float64(i - 1)
		for _, g := range gaps {
			if g.After >= i {
				break
			}
			d += gapWidth(g)
		}
		return d * s
	}
	if r.Radius == 0 {
		cos, sin := math.Cos(chord), math.Sin(chord)
		for i := 1; i <= r.Seats; i++ {
			d := along(i)
			dst = append(dst, Point{r.X + d*cos, r.Y + d*sin})
		}
		return dst
	}
	// The arc turns by length/radius in all; its tangent at seat 1 is the chord turned back by half of that.
	// The left of a way θ on a y-down plane is (sin θ, −cos θ).
	tangent := chord + r.length()/r.Radius/2
	cx, cy := r.X+r.Radius*math.Sin(tangent), r.Y-r.Radius*math.Cos(tangent)
	phi0 := math.Atan2(r.Y-cy, r.X-cx)
	rad := math.Abs(r.Radius)
	dst = append(dst, Point{r.X, r.Y}) // exactly where it was put, whatever the rounding of the circle
	for i := 2; i <= r.Seats; i++ {
		phi := phi0 - along(i)/r.Radius
		dst = append(dst, Point{cx + rad*math.Cos(phi), cy + rad*math.Sin(phi)})
	}
	return dst
}

func finite(v ...float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// validateGeometry checks a row's geometry on its own; overlaps between seats are checked over the whole event.
func (r *Row) validateGeometry(sec string) error {
	where := fmt.Sprintf("section %q row %q", sec, r.Row)
	switch {
	case !finite(r.X, r.Y, r.Angle, r.Spacing, r.Radius):
		return fmt.Errorf("%w: %s: geometry must be finite numbers", ErrInvalid, where)
	case math.Abs(r.X) > MaxCoordinate || math.Abs(r.Y) > MaxCoordinate:
		return fmt.Errorf("%w: %s: x and y must be within ±%d", ErrInvalid, where, MaxCoordinate)
	case math.Abs(r.Angle) > 360:
		return fmt.Errorf("%w: %s: angle %g: want -360 to 360 degrees", ErrInvalid, where, r.Angle)
	case r.Spacing != 0 && (r.Spacing < MinSpacing || r.Spacing > MaxSpacing):
		return fmt.Errorf("%w: %s: spacing %g: want %g to %d seat widths", ErrInvalid, where, r.Spacing, MinSpacing, MaxSpacing)
	case r.Radius != 0 && (math.Abs(r.Radius) < MinSpacing || math.Abs(r.Radius) > MaxCoordinate):
		return fmt.Errorf("%w: %s: radius %g: want 0 (straight) or %g to %d in size", ErrInvalid, where, r.Radius, MinSpacing, MaxCoordinate)
	case len(r.Gaps) >= r.Seats:
		return fmt.Errorf("%w: %s: %d gaps between %d seats", ErrInvalid, where, len(r.Gaps), r.Seats)
	}
	after := make(map[int]bool, len(r.Gaps))
	for _, g := range r.Gaps {
		switch {
		case g.After < 1 || g.After >= r.Seats:
			return fmt.Errorf("%w: %s: a gap after seat %d: want 1 to %d", ErrInvalid, where, g.After, r.Seats-1)
		case after[g.After]:
			return fmt.Errorf("%w: %s: two gaps after seat %d", ErrInvalid, where, g.After)
		case !finite(g.Width) || g.Width < 0 || g.Width > MaxGapWidth:
			return fmt.Errorf("%w: %s: gap after seat %d: width %g: want up to %d spacings", ErrInvalid, where, g.After, g.Width, MaxGapWidth)
		}
		after[g.After] = true
	}
	if r.Radius != 0 && r.length() >= 2*math.Pi*math.Abs(r.Radius) {
		return fmt.Errorf("%w: %s: %g long, it wraps around its circle of radius %g", ErrInvalid, where, r.length(), r.Radius)
	}
	kind := make(map[int]string, len(r.Accessible)+len(r.Companion))
	for _, l := range []struct {
		name string
		nums []int
	}{{"accessible", r.Accessible}, {"companion", r.Companion}} {
		for _, n := range l.nums {
			if n < 1 || n > r.Seats {
				return fmt.Errorf("%w: %s: %s seat %d: want 1 to %d", ErrInvalid, where, l.name, n, r.Seats)
			}
			if k, dup := kind[n]; dup {
				return fmt.Errorf("%w: %s: seat %d is named %s and %s", ErrInvalid, where, n, k, l.name)
			}
			kind[n] = l.name
		}
	}
	return nil
}

// Layout returns the event's seated sections with every row placed: rows with geometry as given, with their
// spacing filled in, and sections without any stacked below the rest (RowPitch, SectionGap).
func (ev *Event) Layout() []Section {
	var out []Section
	bottom, placed := 0.0, false
	for _, sec := range ev.Sections {
		if sec.Kind != Seated || !sec.HasGeometry() {
			continue
		}
		var pts []Point
		for i := range sec.Rows {
			pts = sec.Rows[i].Positions(pts[:0])
			for _, p := range pts {
				if !placed || p.Y > bottom {
					bottom, placed = p.Y, true
				}
			}
		}
	}
	y := 0.0
	if placed {
		y = bottom + SectionGap
	}
	for _, sec := range ev.Sections {
		if sec.Kind != Seated {
			continue
		}
		c := sec
		c.Rows = slices.Clone(sec.Rows)
		if sec.HasGeometry() {
			for i := range c.Rows {
				c.Rows[i].Spacing = c.Rows[i].spacing()
			}
		} else {
			widest := 0
			for _, r := range sec.Rows {
				widest = max(widest, r.Seats)
			}
			for i := range c.Rows {
				c.Rows[i].X, c.Rows[i].Y, c.Rows[i].Spacing = float64(widest-c.Rows[i].Seats)/2, y, 1
				y += RowPitch
			}
			y += SectionGap - RowPitch
		}
		out = append(out, c)
	}
	return out
}

// checkOverlaps fails when two seats of the laid-out event are closer than MinSeatDistance or a seat lies outside
// the plane's limits. It sorts seats into cells one unit wide and compares each with its neighbouring cells.
func checkOverlaps(layout []Section) error {
	type seat struct {
		p        Point
		cell     [2]int64
		sec, row int
		n        int
	}
	var seats []seat
	var pts []Point
	for si, sec := range layout {
		for ri := range sec.Rows {
			pts = sec.Rows[ri].Positions(pts[:0])
			for i, p := range pts {
				if !finite(p.X, p.Y) || math.Abs(p.X) > 2*MaxCoordinate || math.Abs(p.Y) > 2*MaxCoordinate {
					return fmt.Errorf("%w: seat %s lies outside the plan", ErrInvalid, SeatID(sec.ID, sec.Rows[ri].Row, i+1))
				}
				seats = append(seats, seat{p, [2]int64{int64(math.Floor(p.X)), int64(math.Floor(p.Y))}, si, ri, i + 1})
			}
		}
	}
	cmp := func(a, b [2]int64) int {
		if a[0] != b[0] {
			return int(a[0] - b[0])
		}
		return int(a[1] - b[1])
	}
	slices.SortFunc(seats, func(a, b seat) int { return cmp(a.cell, b.cell) })
	id := func(s seat) string { return SeatID(layout[s.sec].ID, layout[s.sec].Rows[s.row].Row, s.n) }
	for i, a := range seats {
		for dx := int64(0); dx <= 1; dx++ { // cells to the right and the same column; the left ones compared a already
			for dy := int64(-1); dy <= 1; dy++ {
				if dx == 0 && dy < 0 {
					continue
				}
				c := [2]int64{a.cell[0] + dx, a.cell[1] + dy}
				j, _ := slices.BinarySearchFunc(seats, c, func(s seat, c [2]int64) int { return cmp(s.cell, c) })
				for ; j < len(seats) && seats[j].cell == c; j++ {
					if dx == 0 && dy == 0 && j <= i {
						continue
					}
					b := seats[j]
					if math.Hypot(a.p.X-b.p.X, a.p.Y-b.p.Y) < MinSeatDistance {
						return fmt.Errorf("%w: seats %s and %s overlap (centres %.2f apart, want at least %g)",
							ErrInvalid, id(a), id(b), math.Hypot(a.p.X-b.p.X, a.p.Y-b.p.Y), MinSeatDistance)
					}
				}
			}
		}
	}
	return nil
}
