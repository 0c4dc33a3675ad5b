// Package catalogtest is the conformance suite every catalogue.Index passes.
package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onsale/onsale/catalogue"
)

// Run checks an index new returns empty: typos and accents, ranking, the city filter, pagination, replacing a
// listing, hostile queries.
func Run(t *testing.T, newIndex func(t *testing.T) catalogue.Index) {
	ctx := context.Background()
	day := time.Date(2027, 3, 1, 20, 0, 0, 0, time.UTC)
	fixture := []catalogue.Listing{
		{ID: "chatelet", Name: "Théâtre du Châtelet: La Traviata", Venue: "Théâtre du Châtelet", City: "Paris", StartsAt: day},
		{ID: "zurich", Name: "Tonhalle Orchestra", Venue: "Tonhalle", City: "Zürich", StartsAt: day.Add(24 * time.Hour)},
		{ID: "bercy", Name: "Stromae", Venue: "Accor Arena", City: "Paris", StartsAt: day.Add(48 * time.Hour),
			Description: "Multitude tour, with a night at the Châtelet afterwards"},
		{ID: "koln", Name: "Kraftwerk", Venue: "Lanxess Arena", City: "Köln", StartsAt: day.Add(72 * time.Hour)},
		{ID: "undated", Name: "Secret show", City: "Paris"},
	}
	fill := func(t *testing.T) catalogue.Index {
		x := newIndex(t)
		for _, l := range fixture {
			if err := x.Put(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		return x
	}
	ids := func(p catalogue.Page) []string {
		var out []string
		for _, l := range p.Listings {
			out = append(out, l.ID)
		}
		return out
	}
	search := func(t *testing.T, x catalogue.Index, q catalogue.Query) []string {
		t.Helper()
		p, err := x.Search(ctx, q)
		if err != nil {
			t.Fatalf("search %+v: %v", q, err)
		}
		return ids(p)
	}

	t.Run("typos and accents", func(t *testing.T) {
		x := fill(t)
		for q, want := range map[string]string{"chatelt": "chatelet", "châtelet": "chatelet", "CHATELET": "chatelet",
			"theatre": "chatelet", "traviatta": "chatelet", "zurich": "zurich", "tonhale": "zurich", "koln": "koln",
			"kraftwrk": "koln", "stroma": "bercy"} {
			if got := search(t, x, catalogue.Query{Q: q}); len(got) == 0 || got[0] != want {
				t.Errorf("%q found %v, want %s first", q, got, want)
			}
		}
		if got := search(t, x, catalogue.Query{Q: "xylophone"}); len(got) != 0 {
			t.Errorf("a word in no listing found %v", got)
		}
	})
	t.Run("ranking", func(t *testing.T) {
		x := fill(t)
		// The name and venue beat a mention in a description; every word must match.
		if got := search(t, x, catalogue.Query{Q: "chatelet"}); !slices.Equal(got, []string{"chatelet", "bercy"}) {
			t.Errorf("chatelet found %v, want the theatre then the description's mention", got)
		}
		if got := search(t, x, catalogue.Query{Q: "arena koln"}); !slices.Equal(got, []string{"koln"}) {
			t.Errorf("arena koln found %v, want koln alone", got)
		}
		// No words: every listing by show time, the undated last.
		if got := search(t, x, catalogue.Query{}); !slices.Equal(got, []string{"chatelet", "zurich", "bercy", "koln", "undated"}) {
			t.Errorf("all found %v", got)
		}
	})
	t.Run("city", func(t *testing.T) {
		x := fill(t)
		if got := search(t, x, catalogue.Query{City: "paris"}); !slices.Equal(got, []string{"chatelet", "bercy", "undated"}) {
			t.Errorf("city paris found %v", got)
		}
		if got := search(t, x, catalogue.Query{City: "Zurich", Q: "orchestra"}); !slices.Equal(got, []string{"zurich"}) {
			t.Errorf("orchestra in zurich found %v", got)
		}
	})
	t.Run("pagination", func(t *testing.T) {
		x := newIndex(t)
		for i := range 25 {
			l := catalogue.Listing{ID: fmt.Sprintf("tour-%02d", i), Name: "Tour night", City: "Lyon", StartsAt: day.Add(time.Duration(i%5) * time.Hour)}
			if err := x.Put(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		var all []string
		cursor, pages := "", 0
		for {
			p, err := x.Search(ctx, catalogue.Query{Q: "tour", Limit: 10, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, ids(p)...)
			pages++
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
		sorted := slices.Clone(all)
		slices.Sort(sorted)
		if pages != 3 || len(all) != 25 || len(slices.Compact(sorted)) != 25 {
			t.Fatalf("%d pages of %d listings (%d distinct), want 3 pages of 25", pages, len(all), len(slices.Compact(sorted)))
		}
		for i := 1; i < len(all); i++ { // by show time, then id
			a, b := all[i-1], all[i]
			var ia, ib int
			fmt.Sscanf(a, "tour-%d", &ia)
			fmt.Sscanf(b, "tour-%d", &ib)
			if ia%5 > ib%5 || ia%5 == ib%5 && a > b {
				t.Fatalf("out of order: %s before %s", a, b)
			}
		}
		if _, err := x.Search(ctx, catalogue.Query{Cursor: "not-a-cursor"}); !errors.Is(err, catalogue.ErrBadCursor) {
			t.Errorf("a bad cursor: %v", err)
		}
	})
	t.Run("put replaces", func(t *testing.T) {
		x := fill(t)
		l := fixture[3]
		l.Name, l.City = "Kraftwerk 3-D", "Düsseldorf"
		if err := x.Put(ctx, l); err != nil {
			t.Fatal(err)
		}
		got, err := x.Get(ctx, "koln")
		if err != nil || got.Name != "Kraftwerk 3-D" || got.City != "Düsseldorf" || !got.StartsAt.Equal(l.StartsAt) {
			t.Fatalf("get after put: %+v %v", got, err)
		}
		if got := search(t, x, catalogue.Query{City: "koln"}); len(got) != 0 {
			t.Errorf("the old city still finds %v", got)
		}
		if got := search(t, x, catalogue.Query{Q: "dusseldorf"}); !slices.Equal(got, []string{"koln"}) {
			t.Errorf("the new city finds %v", got)
		}
		if _, err := x.Get(ctx, "nope"); !errors.Is(err, catalogue.ErrNotFound) {
			t.Errorf("get of nothing: %v", err)
		}
	})
	t.Run("hostile queries", func(t *testing.T) {
		x := fill(t)
		for _, q := range []string{"'; DROP TABLE catalogue_listings; --", `\`, "%", "_", ".*", "(", "[", "$1", "\x00",
			strings.Repeat("a", catalogue.MaxQueryLen), strings.Repeat("paris ", 30)} {
			if _, err := x.Search(ctx, catalogue.Query{Q: q, City: q}); err != nil {
				t.Errorf("search %.20q: %v", q, err)
			}
		}
		if got := search(t, x, catalogue.Query{}); len(got) != len(fixture) {
			t.Errorf("after the hostile queries the catalogue lists %v", got)
		}
	})
}
