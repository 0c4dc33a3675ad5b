package inventory

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sort"
	"strconv"
)

// Fingerprint hashes parts into a sha256 hex string for idempotency checks. Each part is length-prefixed, so
// ("ab", "c") and ("a", "bc") differ.
func Fingerprint(parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// RequestFingerprint is the Fingerprint of what a hold request asks for (items in order, then the named seats
// sorted), for callers that have no body of their own to hash.
func RequestFingerprint(req HoldRequest) string {
	parts := make([]string, 0, 3*len(req.Items)+len(req.Seats)+2)
	parts = append(parts, req.Event, req.Fan, strconv.Itoa(len(req.Items)))
	for _, it := range req.Items {
		parts = append(parts, it.Section, strconv.Itoa(it.Quantity), strconv.FormatBool(it.Adjacent))
	}
	seats := append([]string(nil), req.Seats...)
	sort.Strings(seats)
	parts = append(parts, seats...)
	return Fingerprint(parts...)
}
