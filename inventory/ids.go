package inventory

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
)

// Id limits. Section ids and row labels have no dash, so a seat id <section>-<row>-<n> parses one way only.
const (
	maxEventIDLen   = 64
	maxSectionIDLen = 32
	maxRowLabelLen  = 16
	holdSuffixLen   = 20
)

// holdAlphabet is lowercase base32 (RFC 4648 letters and digits 2-7).
const holdAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// ValidEventID reports whether id matches ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$.
func ValidEventID(id string) bool {
	if len(id) == 0 || len(id) > maxEventIDLen || !alnum(id[0]) {
		return false
	}
	for i := 1; i < len(id); i++ {
		if c := id[i]; !alnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// ValidSectionID reports whether id matches ^[A-Za-z0-9_]{1,32}$.
func ValidSectionID(id string) bool { return word(id, maxSectionIDLen) }

// ValidRowLabel reports whether label matches ^[A-Za-z0-9_]{1,16}$.
func ValidRowLabel(label string) bool { return word(label, maxRowLabelLen) }

func word(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '_' {
			return false
		}
	}
	return true
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// NewHoldID returns a fresh hold id for an event: the event id, a dot and 20 random lowercase base32 characters
// (100 bits). The event is part of the id so a Redis adapter can route the hold to its event's hash tag.
func NewHoldID(event string) string {
	return string(AppendHoldID(make([]byte, 0, len(event)+1+holdSuffixLen), event))
}

// AppendHoldID appends a fresh hold id for an event to dst, as NewHoldID makes it (for callers that build a key
// around it in one buffer).
func AppendHoldID(dst []byte, event string) []byte {
	var b [holdSuffixLen]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	dst = append(dst, event...)
	dst = append(dst, '.')
	for _, c := range b {
		dst = append(dst, holdAlphabet[c&31])
	}
	return dst
}

// HoldIDLen is the length of a hold id of the event.
func HoldIDLen(event string) int { return len(event) + 1 + holdSuffixLen }

// EventOfHold returns the event of a hold id made by NewHoldID. ok is false when the id is not one: no dot, an
// invalid event id before the last dot, or a suffix that is not 20 lowercase base32 characters.
func EventOfHold(id string) (event string, ok bool) {
	i := strings.LastIndexByte(id, '.')
	if i < 0 {
		return "", false
	}
	event, suffix := id[:i], id[i+1:]
	if !ValidEventID(event) || len(suffix) != holdSuffixLen {
		return "", false
	}
	for j := 0; j < len(suffix); j++ {
		if strings.IndexByte(holdAlphabet, suffix[j]) < 0 {
			return "", false
		}
	}
	return event, true
}

// SeatID names seat n (1-based) of a row of a section: <section>-<row>-<n>.
func SeatID(section, row string, n int) string {
	return section + "-" + row + "-" + strconv.Itoa(n)
}

// maxSeatDigits bounds the seat number's length so parsing never overflows; rows have at most 2,000 seats anyway.
const maxSeatDigits = 9

// ParseSeatID splits a seat id made by SeatID. Anything malformed fails with ErrInvalid: a wrong number of
// dashes, a bad section id or row label, a seat number that is not a positive decimal without leading zeros.
// It does not check that the seat exists in any event.
func ParseSeatID(id string) (section, row string, n int, err error) {
	section, rest, ok := strings.Cut(id, "-")
	if !ok {
		return "", "", 0, fmt.Errorf("%w: seat id %q: want <section>-<row>-<n>", ErrInvalid, id)
	}
	row, num, ok := strings.Cut(rest, "-")
	if !ok || strings.IndexByte(num, '-') >= 0 {
		return "", "", 0, fmt.Errorf("%w: seat id %q: want <section>-<row>-<n>", ErrInvalid, id)
	}
	if !ValidSectionID(section) {
		return "", "", 0, fmt.Errorf("%w: seat id %q: bad section id", ErrInvalid, id)
	}
	if !ValidRowLabel(row) {
		return "", "", 0, fmt.Errorf("%w: seat id %q: bad row label", ErrInvalid, id)
	}
	if len(num) == 0 || len(num) > maxSeatDigits || num[0] == '0' {
		return "", "", 0, fmt.Errorf("%w: seat id %q: bad seat number", ErrInvalid, id)
	}
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return "", "", 0, fmt.Errorf("%w: seat id %q: bad seat number", ErrInvalid, id)
		}
		n = n*10 + int(num[i]-'0')
	}
	return section, row, n, nil
}
