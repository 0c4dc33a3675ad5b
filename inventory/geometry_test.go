package inventory

import (
	"errors"
	"math"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestRowPositionsStraight(t *testing.T) {
	t.Parallel()
	r := Row{Row: "1", Seats: 6, X: 2, Y: 3, Spacing: 1.5, Gaps: []Gap{{After: 4, Width: 2}, {After: 2}}}
	got := r.Positions(nil)
	// Seats 1 2 | gap 1 | 3 4 | gap 2 | 5 6, each 1.5 apart.
	want := []float64{0, 1, 3, 4, 7, 8}
	if len(got) != 6 {
		t.Fatalf("%d positions", len(got))
	}
	for i, p := range got {
		if !near(p.X, 2+1.5*want[i]) || !near(p.Y, 3) {
			t.Errorf("seat %d at %+v, want (%g, 3)", i+1, p, 2+1.5*want[i])
		}
	}
	r = Row{Row: "1", Seats: 3, Angle: 90}
	for i, p := range r.Positions(nil) { // downwards
		if !near(p.X, 0) || !near(p.Y, float64(i)) {
			t.Errorf("angle 90: seat %d at %+v", i+1, p)
		}
	}
}

// An arc's seats lie on one circle, spacing apart along it, and its angle is the chord's: a row at angle 0 bent
// around a stage in front of it (radius > 0: the centre on its left, which is the front) is symmetric, its middle
// furthest back.
func TestRowPositionsArc(t *testing.T) {
	t.Parallel()
	r := Row{Row: "1", Seats: 11, X: 0, Y: 10, Radius: 8}
	pts := r.Positions(nil)
	first, last, mid := pts[0], pts[10], pts[5]
	if !near(first.X, 0) || !near(first.Y, 10) {
		t.Errorf("seat 1 at %+v, want (0, 10)", first)
	}
	if !near(last.Y, first.Y) || last.X <= first.X {
		t.Errorf("chord not at angle 0: %+v → %+v", first, last)
	}
	if mid.Y <= first.Y {
		t.Errorf("the middle seat %+v is not behind the ends %+v: the arc bends the wrong way", mid, first)
	}
	if !near(mid.X, (first.X+last.X)/2) {
		t.Errorf("not symmetric: middle %+v, ends %+v %+v", mid, first, last)
	}
	cx, cy := (first.X+last.X)/2, 0.0 // the centre is on the perpendicular bisector of the chord, in front
	// find cy from |first - c| = 8
	cy = first.Y - math.Sqrt(64-(first.X-cx)*(first.X-cx))
	for i, p := range pts {
		if d := math.Hypot(p.X-cx, p.Y-cy); math.Abs(d-8) > 1e-9 {
			t.Errorf("seat %d is %g from the centre, want 8", i+1, d)
		}
		if i > 0 {
			chord := math.Hypot(p.X-pts[i-1].X, p.Y-pts[i-1].Y)
			if want := 2 * 8 * math.Sin(1.0/16); !near(chord, want) {
				t.Errorf("seats %d and %d are %g apart, want the chord of an arc of length 1 (%g)", i, i+1, chord, want)
			}
		}
	}
	r.Radius = -8 // the centre behind: the middle comes forward
	if pts := r.Positions(nil); pts[5].Y >= pts[0].Y {
		t.Errorf("radius -8: the middle %+v is not in front of the ends %+v", pts[5], pts[0])
	}
}

// Whatever the geometry, neighbouring seats of a straight row are exactly spacing (plus gaps) apart and the chord
// from seat 1 to the last points at the row's angle; an arc keeps every seat at the radius from one centre.
func TestRowPositionsProperties(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		r := Row{Row: "1", Seats: rapid.IntRange(2, 300).Draw(t, "seats"),
			X: rapid.Float64Range(-1000, 1000).Draw(t, "x"), Y: rapid.Float64Range(-1000, 1000).Draw(t, "y"),
			Angle: rapid.Float64Range(-360, 360).Draw(t, "angle"), Spacing: rapid.Float64Range(0.5, 5).Draw(t, "spacing")}
		if rapid.Bool().Draw(t, "curved") {
			r.Radius = rapid.Float64Range(1, 500).Draw(t, "radius")
			if rapid.Bool().Draw(t, "right") {
				r.Radius = -r.Radius
			}
		}
		if r.validateGeometry("A") != nil {
			t.Skip("wraps around")
		}
		pts := r.Positions(nil)
		first, last := pts[0], pts[len(pts)-1]
		dir := math.Atan2(last.Y-first.Y, last.X-first.X)
		if d := math.Remainder(dir-r.Angle*math.Pi/180, 2*math.Pi); math.Abs(d) > 1e-6 {
			t.Fatalf("chord at %g rad, want %g degrees", dir, r.Angle)
		}
		if !near(first.X, r.X) || !near(first.Y, r.Y) {
			t.Fatalf("seat 1 at %+v", first)
		}
		for i := 1; i < len(pts); i++ {
			d := math.Hypot(pts[i].X-pts[i-1].X, pts[i].Y-pts[i-1].Y)
			want := r.Spacing
			if r.Radius != 0 {
				want = 2 * math.Abs(r.Radius) * math.Sin(r.Spacing/math.Abs(r.Radius)/2)
			}
			if math.Abs(d-want) > 1e-6 {
				t.Fatalf("seats %d and %d %g apart, want %g", i, i+1, d, want)
			}
		}
	})
}

func seatedEvent(secs ...Section) Event {
	ev := validEvent()
	ev.Withheld = nil
	ev.Sections = secs
	return ev
}

func TestGeometryValidation(t *testing.T) {
	t.Parallel()
	row := func(f func(*Row)) Section {
		r := Row{Row: "1", Seats: 10, Y: 1}
		f(&r)
		return Section{ID: "A", Kind: Seated, Price: 1, Rows: []Row{r}}
	}
	for _, c := range []struct {
		name string
		ev   Event
		want string
	}{
		{"negative spacing", seatedEvent(row(func(r *Row) { r.Spacing = -1 })), "spacing"},
		{"spacing below half a seat", seatedEvent(row(func(r *Row) { r.Spacing = 0.2 })), "spacing"},
		{"far away", seatedEvent(row(func(r *Row) { r.X = 1e6 })), "x and y"},
		{"not a number", seatedEvent(row(func(r *Row) { r.Y = math.NaN() })), "finite"},
		{"angle", seatedEvent(row(func(r *Row) { r.Angle = 720 })), "angle"},
		{"tiny radius", seatedEvent(row(func(r *Row) { r.Radius = 0.1 })), "radius"},
		{"wraps its circle", seatedEvent(row(func(r *Row) { r.Radius = 1 })), "wraps"},
		{"gap after the last seat", seatedEvent(row(func(r *Row) { r.Gaps = []Gap{{After: 10}} })), "gap after seat 10"},
		{"gap before seat 1", seatedEvent(row(func(r *Row) { r.Gaps = []Gap{{After: 0}} })), "gap after seat 0"},
		{"two gaps at one place", seatedEvent(row(func(r *Row) { r.Gaps = []Gap{{After: 3}, {After: 3}} })), "two gaps"},
		{"negative gap", seatedEvent(row(func(r *Row) { r.Gaps = []Gap{{After: 3, Width: -2}} })), "width"},
		{"accessible seat 11 of 10", seatedEvent(row(func(r *Row) { r.Accessible = []int{11} })), "accessible seat 11"},
		{"companion seat 0", seatedEvent(row(func(r *Row) { r.Companion = []int{0} })), "companion seat 0"},
		{"accessible and companion", seatedEvent(row(func(r *Row) { r.Accessible, r.Companion = []int{2}, []int{2} })), "seat 2 is named"},
		{"accessible twice", seatedEvent(row(func(r *Row) { r.Accessible = []int{2, 2} })), "seat 2 is named"},
		{"rows on top of each other", seatedEvent(Section{ID: "A", Kind: Seated, Price: 1,
			Rows: []Row{{Row: "1", Seats: 5, Y: 1}, {Row: "2", Seats: 5, Y: 1.2}}}), "A-1-1 and A-2-1 overlap"},
		{"sections on top of each other", seatedEvent(
			Section{ID: "A", Kind: Seated, Price: 1, Rows: []Row{{Row: "1", Seats: 5, X: 10, Y: 1}}},
			Section{ID: "B", Kind: Seated, Price: 1, Rows: []Row{{Row: "1", Seats: 5, X: 14, Y: 1}}}), "A-1-5 and B-1-1 overlap"},
		{"long name", seatedEvent(Section{ID: "A", Kind: Seated, Price: 1, Name: strings.Repeat("n", 65),
			Rows: []Row{{Row: "1", Seats: 5}}}), "name"},
	} {
		err := c.ev.Validate()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrInvalid about %q", c.name, err, c.want)
		}
	}
	// What is fine: a curved row with an aisle, wheelchair spaces and companions, and a second section beside it.
	ok := seatedEvent(
		Section{ID: "A", Kind: Seated, Price: 1, Name: "Stalls left", Rows: []Row{
			{Row: "1", Seats: 10, Y: 2, Radius: 30, Gaps: []Gap{{After: 5, Width: 2}}, Accessible: []int{1}, Companion: []int{2}},
			{Row: "2", Seats: 12, X: -1, Y: 3.2, Radius: 31.2}}},
		Section{ID: "B", Kind: Seated, Price: 1, Rows: []Row{{Row: "1", Seats: 5, X: 20, Y: 2}}},
		Section{ID: "C", Kind: Seated, Price: 1, Rows: []Row{{Row: "1", Seats: 5}, {Row: "2", Seats: 7}}})
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}

// A section without geometry is stacked below the placed ones, its rows centred on the widest.
func TestLayoutDefaults(t *testing.T) {
	t.Parallel()
	ev := seatedEvent(
		Section{ID: "GA", Kind: General, Capacity: 10},
		Section{ID: "P", Kind: Seated, Rows: []Row{{Row: "1", Seats: 4, Y: 5}}},
		Section{ID: "A", Kind: Seated, Rows: []Row{{Row: "1", Seats: 4}, {Row: "2", Seats: 6}}},
		Section{ID: "B", Kind: Seated, Rows: []Row{{Row: "1", Seats: 2}}})
	l := ev.Layout()
	if len(l) != 3 || l[0].ID != "P" || l[1].ID != "A" || l[2].ID != "B" {
		t.Fatalf("layout sections %+v", l)
	}
	if r := l[0].Rows[0]; r.X != 0 || r.Y != 5 || r.Spacing != 1 {
		t.Errorf("placed row moved: %+v", r)
	}
	a1, a2, b1 := l[1].Rows[0], l[1].Rows[1], l[2].Rows[0]
	if a1.Y != 5+SectionGap || a2.Y != a1.Y+RowPitch || a1.X != 1 || a2.X != 0 {
		t.Errorf("A's rows at %+v %+v", a1, a2)
	}
	if b1.Y != a2.Y+SectionGap || b1.X != 0 {
		t.Errorf("B's row at %+v", b1)
	}
	if ev.Sections[2].Rows[0].Spacing != 0 {
		t.Error("Layout changed the event's own rows")
	}
	if err := checkOverlaps(l); err != nil {
		t.Error(err)
	}
}

// A 20,000-seat section of curved rows is checked in one pass, and a seat moved onto its neighbour is found.
func TestOverlapsLargeSection(t *testing.T) {
	t.Parallel()
	sec := Section{ID: "A", Kind: Seated, Price: 1}
	for i := range 100 {
		sec.Rows = append(sec.Rows, Row{Row: "R" + string(rune('0'+i/10)) + string(rune('0'+i%10)), Seats: 200,
			X: -float64(i) * 0.3, Y: float64(i) * 1.2, Radius: 120 + 1.2*float64(i)})
	}
	ev := seatedEvent(sec)
	if err := ev.Validate(); err != nil {
		t.Fatal(err)
	}
	if ev.Sections[0].Capacity != 20_000 {
		t.Fatalf("capacity %d", ev.Sections[0].Capacity)
	}
	ev.Sections[0].Rows[50].Y = ev.Sections[0].Rows[49].Y + 0.1
	ev.Sections[0].Rows[50].X = ev.Sections[0].Rows[49].X
	ev.Sections[0].Rows[50].Radius = ev.Sections[0].Rows[49].Radius
	if err := ev.Validate(); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Fatalf("row 50 on row 49: %v", err)
	}
}
