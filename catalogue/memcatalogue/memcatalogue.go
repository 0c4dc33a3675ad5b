// Package memcatalogue is the catalogue's in-memory index, for a process without PostgreSQL: every search scores
// every listing, which is plenty for the few thousand events one organizer's process holds.
package memcatalogue

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/onsale/onsale/catalogue"
)

// Index is safe for concurrent use.
type Index struct {
	mu       sync.RWMutex
	listings map[string]*entry
}

type entry struct {
	l      catalogue.Listing
	fields [4][]word // name, venue, city, description
	city   string
}

type word struct {
	text string
	tri  map[string]bool
}

var _ catalogue.Index = (*Index)(nil)

// New returns an empty index.
func New() *Index { return &Index{listings: map[string]*entry{}} }

// fieldWeights: a match in the name counts most, in the description least.
var fieldWeights = [4]float64{3, 2, 2, 1}

// minSimilarity is how alike a query word and a listing's word must be to match as a typo.
const minSimilarity = 0.4

func (x *Index) Put(_ context.Context, l catalogue.Listing) error {
	e := &entry{l: l, city: catalogue.Fold(strings.TrimSpace(l.City))}
	for i, f := range []string{l.Name, l.Venue, l.City, l.Description} {
		for _, w := range catalogue.Words(f) {
			e.fields[i] = append(e.fields[i], word{w, catalogue.Trigrams(w)})
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.listings[l.ID] = e
	return nil
}

func (x *Index) Get(_ context.Context, id string) (catalogue.Listing, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.listings[id]
	if !ok {
		return catalogue.Listing{}, catalogue.ErrNotFound
	}
	return e.l, nil
}

func (x *Index) Search(_ context.Context, q catalogue.Query) (catalogue.Page, error) {
	q = q.Normalize()
	offset, err := catalogue.DecodeCursor(q.Cursor)
	if err != nil {
		return catalogue.Page{}, err
	}
	words := catalogue.Words(q.Q)
	city := catalogue.Fold(strings.TrimSpace(q.City))
	type hit struct {
		e     *entry
		score float64
	}
	x.mu.RLock()
	var hits []hit
	for _, e := range x.listings {
		if city != "" && e.city != city {
			continue
		}
		s, ok := score(e, words)
		if ok {
			hits = append(hits, hit{e, s})
		}
	}
	x.mu.RUnlock()
	slices.SortFunc(hits, func(a, b hit) int {
		switch {
		case a.score != b.score:
			if a.score > b.score {
				return -1
			}
			return 1
		case !a.e.l.StartsAt.Equal(b.e.l.StartsAt):
			return catalogue.CompareShowTimes(a.e.l.StartsAt, b.e.l.StartsAt)
		}
		return strings.Compare(a.e.l.ID, b.e.l.ID)
	})
	var p catalogue.Page
	if offset >= len(hits) {
		return p, nil
	}
	end := min(offset+q.Limit, len(hits))
	for _, h := range hits[offset:end] {
		p.Listings = append(p.Listings, h.e.l)
	}
	if end < len(hits) {
		p.Next = catalogue.EncodeCursor(end)
	}
	return p, nil
}

// score sums each query word's best match over the listing's fields; a listing matches only when every word
// does (exactly, as a prefix, or as a typo).
func score(e *entry, words []string) (float64, bool) {
	total := 0.0
	for _, q := range words {
		qt := catalogue.Trigrams(q)
		best := 0.0
		for i, f := range e.fields {
			for _, w := range f {
				var m float64
				switch {
				case w.text == q:
					m = 1
				case len(q) >= 2 && strings.HasPrefix(w.text, q):
					m = 0.9
				default:
					if s := catalogue.Similarity(qt, w.tri); s >= minSimilarity {
						m = s * 0.8
					}
				}
				best = max(best, m*fieldWeights[i])
			}
		}
		if best == 0 {
			return 0, false
		}
		total += best
	}
	return total, true
}
