// Package catalogue is what the public sees of the events: their listings (name, venue, city, show time,
// description) and a search over them that tolerates typos and accents ("chatelt" finds "Châtelet"). The Index is
// PostgreSQL's full-text and trigram search where PostgreSQL is configured (pgcatalogue) and an in-memory index
// otherwise (memcatalogue); both pass catalogtest.Run.
package catalogue

import (
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Listing is an event as the catalogue shows it.
type Listing struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Venue       string    `json:"venue,omitempty"`
	City        string    `json:"city,omitempty"`
	StartsAt    time.Time `json:"starts_at,omitzero"` // the performance
	Description string    `json:"description,omitempty"`
}

// Query is a search: Q (words, any order; empty lists every event by show time), City (exact but for case and
// accents), a page of at most Limit results after Cursor.
type Query struct {
	Q      string
	City   string
	Limit  int
	Cursor string
}

// Page is a page of results, best matches first (by show time when the query has no words), and the cursor of the
// next page ("" at the end).
type Page struct {
	Listings []Listing
	Next     string
}

// Index stores listings and searches them.
type Index interface {
	// Put adds or replaces the listing with l's id.
	Put(ctx context.Context, l Listing) error
	// Get returns the listing with id, or ErrNotFound.
	Get(ctx context.Context, id string) (Listing, error)
	// Search answers q; a malformed cursor is ErrBadCursor.
	Search(ctx context.Context, q Query) (Page, error)
}

var (
	ErrNotFound  = errors.New("catalogue: no such listing")
	ErrBadCursor = errors.New("catalogue: malformed cursor")
)

// Limits of a query and a listing, checked by the API.
const (
	MaxQueryLen       = 200
	MaxLimit          = 100
	DefaultLimit      = 20
	MaxVenueLen       = 200
	MaxCityLen        = 100
	MaxDescriptionLen = 4000
)

// Fold lowercases s and strips its accents, so "Châtelet" and "chatelet" are one word to a search.
func Fold(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	return strings.ToLower(out)
}

// Words splits folded text into its words.
func Words(s string) []string {
	return strings.FieldsFunc(Fold(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// Cursors are opaque to callers: an offset into the query's ranking, which both indexes keep stable (ties broken
// by show time, then id).
func EncodeCursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o" + strconv.Itoa(offset)))
}

// DecodeCursor returns the offset a cursor names (0 for "").
func DecodeCursor(c string) (int, error) {
	if c == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 2 || b[0] != 'o' {
		return 0, ErrBadCursor
	}
	n, err := strconv.Atoi(string(b[1:]))
	if err != nil || n < 0 || n > 1_000_000 {
		return 0, ErrBadCursor
	}
	return n, nil
}

// Normalize clamps a query's limit.
func (q Query) Normalize() Query {
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit > MaxLimit {
		q.Limit = MaxLimit
	}
	return q
}

// CompareShowTimes orders show times soonest first, listings without one last.
func CompareShowTimes(a, b time.Time) int {
	switch {
	case a.Equal(b):
		return 0
	case a.IsZero():
		return 1
	case b.IsZero():
		return -1
	case a.Before(b):
		return -1
	}
	return 1
}
