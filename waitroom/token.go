package waitroom

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"sync"
	"time"
)

// Tokens are compact signed blobs: base64url(payload ‖ tag) where tag is the first 16 bytes of
// HMAC-SHA256(key, payload) and key is derived from Options.Secret for this package alone. The payload is binary:
//
//	version(1) kind(1) uvarint(len event) event uvarint(len fan) fan …kind fields… varint(expires unix s)
//
// A queue token's fields are lane(1) flags(1) uvarint(seq) uvarint(pos) varint(issued) varint(joined); an access
// token has none, and after its expiry the admitted place, lane(1) uvarint(pos), when it was minted with one. The
// tag is checked (hmac.Equal, constant time) before any field is read, so an altered byte anywhere fails the same
// way as a forgery.

const (
	tokenVersion = 1
	kindQueue    = 'q'
	kindAccess   = 'a'
	tagLen       = 16
	maxTokenLen  = 1024
	flagPrequeue = 1
)

var errToken = errors.New("token does not verify")

var strictBase64 = base64.RawURLEncoding.Strict()

// maxPos bounds the join numbers and positions a token may carry.
const maxPos = 1 << 40

// queueToken is the content of a queue token.
type queueToken struct {
	Event, Fan string
	Lane       int
	Prequeue   bool  // issued before the draw: Pos is 0 and the place is the drawn position of Seq
	Seq        int64 // join number in the lane
	Pos        int64 // queue position (0 while the pre-queue is not drawn)
	Issued     time.Time
	Joined     time.Time // when the fan first joined (for the wait histogram)
	Expires    time.Time
}

// accessToken is the content of an access token.
type accessToken struct {
	Event, Fan string
	Expires    time.Time
	// Lane and Pos name the admitted place, so a call with the token can keep the place active without a lookup;
	// Pos is 0 in tokens minted without it.
	Lane int
	Pos  int64
}

// signer mints and verifies tokens. Its HMACs come from a pool: after its first Reset a crypto/hmac hasher
// restores the SHA-256 states of the padded key instead of hashing the two pad blocks again, which halves the
// compressions of a poll's verification.
type signer struct {
	macs *sync.Pool // of *mac
}

// mac is a pooled HMAC with the buffers a verification needs, so a poll allocates nothing.
type mac struct {
	h   hash.Hash
	sum [sha256.Size]byte
	src [maxTokenLen]byte // the token's text, when it comes as a string
	buf [maxTokenLen]byte // the decoded token
}

func newSigner(secret []byte) signer {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("onsale/waitroom/token/v1"))
	key := m.Sum(nil)
	return signer{macs: &sync.Pool{New: func() any { return &mac{h: hmac.New(sha256.New, key)} }}}
}

func (s signer) get() *mac { return s.macs.Get().(*mac) }

func (s signer) put(m *mac) {
	m.h.Reset()
	s.macs.Put(m)
}

// tag returns HMAC-SHA256(key, payload) truncated to tagLen, in m's buffer.
func (m *mac) tag(payload []byte) []byte {
	m.h.Write(payload)
	return m.h.Sum(m.sum[:0])[:tagLen]
}

// tag appends the tag of payload to dst.
func (s signer) tag(dst, payload []byte) []byte {
	m := s.get()
	dst = append(dst, m.tag(payload)...)
	s.put(m)
	return dst
}

func (s signer) seal(payload []byte) string {
	return base64.RawURLEncoding.EncodeToString(s.tag(payload, payload))
}

// open checks the tag of a token and returns its payload, decoded into m.buf; every failure is the same error.
func (m *mac) open(tok []byte) ([]byte, error) {
	if len(tok) == 0 || len(tok) > maxTokenLen {
		return nil, errToken
	}
	// Only the canonical text of a token verifies: no stray low bits in the last character, no line breaks.
	n, err := strictBase64.Decode(m.buf[:], tok)
	if err != nil || n < tagLen+2 || strictBase64.EncodedLen(n) != len(tok) {
		return nil, errToken
	}
	payload, tag := m.buf[:n-tagLen], m.buf[n-tagLen:n]
	if !hmac.Equal(m.tag(payload), tag) {
		return nil, errToken
	}
	return payload, nil
}

// openString is open for a token held as a string.
func (m *mac) openString(tok string) ([]byte, error) {
	if len(tok) > maxTokenLen {
		return nil, errToken
	}
	return m.open(m.src[:copy(m.src[:], tok)])
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (s signer) queue(t queueToken) string {
	b := make([]byte, 0, 64+len(t.Event)+len(t.Fan))
	b = append(b, tokenVersion, kindQueue)
	b = appendString(b, t.Event)
	b = appendString(b, t.Fan)
	var flags byte
	if t.Prequeue {
		flags |= flagPrequeue
	}
	b = append(b, byte(t.Lane), flags)
	b = binary.AppendUvarint(b, uint64(t.Seq))
	b = binary.AppendUvarint(b, uint64(t.Pos))
	b = binary.AppendVarint(b, t.Issued.Unix())
	b = binary.AppendVarint(b, t.Joined.Unix())
	b = binary.AppendVarint(b, t.Expires.Unix())
	return s.seal(b)
}

func (s signer) access(t accessToken) string {
	b := make([]byte, 0, 32+len(t.Event)+len(t.Fan))
	b = append(b, tokenVersion, kindAccess)
	b = appendString(b, t.Event)
	b = appendString(b, t.Fan)
	b = binary.AppendVarint(b, t.Expires.Unix())
	if t.Pos > 0 {
		b = append(b, byte(t.Lane))
		b = binary.AppendUvarint(b, uint64(t.Pos))
	}
	return s.seal(b)
}

// reader decodes a verified payload; any malformation sets bad.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.bad = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// bytes returns a length-prefixed field without copying it.
func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

// header reads the version, kind, event and fan; it reports whether the token is of kind and for event.
func (r *reader) header(kind byte, event string) (fan string, ok bool) {
	if r.byte() != tokenVersion || r.byte() != kind {
		r.bad = true
		return "", false
	}
	ev := r.bytes()
	fan = r.string()
	return fan, !r.bad && string(ev) == event
}

// parseQueue verifies a queue token for event at now.
func (s signer) parseQueue(tok, event string, now time.Time) (queueToken, error) {
	m := s.get()
	defer s.put(m)
	p, err := m.openString(tok)
	if err != nil {
		return queueToken{}, err
	}
	return decodeQueue(p, event, now)
}

// parseQueueBytes is parseQueue for a token held as bytes (a request header), which it does not keep.
func (s signer) parseQueueBytes(tok []byte, event string, now time.Time) (queueToken, error) {
	m := s.get()
	defer s.put(m)
	p, err := m.open(tok)
	if err != nil {
		return queueToken{}, err
	}
	return decodeQueue(p, event, now)
}

// decodeQueue reads a verified queue token's payload.
func decodeQueue(p []byte, event string, now time.Time) (queueToken, error) {
	r := reader{b: p}
	t := queueToken{Event: event}
	fan, sameEvent := r.header(kindQueue, event)
	t.Fan = fan
	t.Lane = int(r.byte())
	flags := r.byte()
	t.Prequeue = flags&flagPrequeue != 0
	seq, pos := r.uvarint(), r.uvarint()
	t.Issued = time.Unix(r.varint(), 0)
	t.Joined = time.Unix(r.varint(), 0)
	t.Expires = time.Unix(r.varint(), 0)
	if r.bad || len(r.b) != 0 || flags&^flagPrequeue != 0 || t.Lane >= MaxLanes || seq == 0 || seq > maxPos || pos > maxPos ||
		t.Fan == "" || !sameEvent || !now.Before(t.Expires) || (t.Prequeue != (pos == 0)) {
		return queueToken{}, errToken
	}
	t.Seq, t.Pos = int64(seq), int64(pos)
	return t, nil
}

// parseAccess verifies an access token for event at now.
func (s signer) parseAccess(tok, event string, now time.Time) (accessToken, error) {
	m := s.get()
	defer s.put(m)
	p, err := m.openString(tok)
	if err != nil {
		return accessToken{}, err
	}
	r := reader{b: p}
	t := accessToken{Event: event}
	fan, sameEvent := r.header(kindAccess, event)
	t.Fan = fan
	t.Expires = time.Unix(r.varint(), 0)
	if len(r.b) > 0 { // the place
		t.Lane = int(r.byte())
		pos := r.uvarint()
		if pos == 0 || pos > maxPos || t.Lane >= MaxLanes {
			r.bad = true
		}
		t.Pos = int64(pos)
	}
	if r.bad || len(r.b) != 0 || t.Fan == "" || !sameEvent || !now.Before(t.Expires) {
		return accessToken{}, errToken
	}
	return t, nil
}
