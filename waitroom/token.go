package waitroom

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// Tokens are compact signed blobs: base64url(payload ‖ tag) where tag is the first 16 bytes of
// HMAC-SHA256(key, payload) and key is derived from Options.Secret for this package alone. The payload is binary:
//
//	version(1) kind(1) uvarint(len event) event uvarint(len fan) fan …kind fields… varint(expires unix s)
//
// A queue token's fields are lane(1) flags(1) uvarint(seq) uvarint(pos) varint(issued) varint(joined); an access
// token's are none besides the expiry. The tag is checked (hmac.Equal, constant time) before any field is read,
// so an altered byte anywhere fails the same way as a forgery.

const (
	tokenVersion = 1
	kindQueue    = 'q'
	kindAccess   = 'a'
	tagLen       = 16
	maxTokenLen  = 1024
	flagPrequeue = 1
)

var errToken = errors.New("token does not verify")

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
}

type signer struct {
	ipad, opad [sha256.BlockSize]byte // the derived key XOR the HMAC pads, so tags are computed with sha256.Sum256 alone
}

func newSigner(secret []byte) signer {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("onsale/waitroom/token/v1"))
	key := m.Sum(nil) // 32 bytes: shorter than a block, so it is used as is
	var s signer
	for i := range sha256.BlockSize {
		var k byte
		if i < len(key) {
			k = key[i]
		}
		s.ipad[i], s.opad[i] = k^0x36, k^0x5c
	}
	return s
}

// tag appends HMAC-SHA256(key, payload) truncated to tagLen to dst. It is HMAC computed by hand on stack buffers
// (payloads are at most maxTokenLen), so verifying a poll's token allocates nothing.
func (s signer) tag(dst, payload []byte) []byte {
	var in [sha256.BlockSize + maxTokenLen]byte
	copy(in[:], s.ipad[:])
	n := copy(in[sha256.BlockSize:], payload)
	inner := sha256.Sum256(in[:sha256.BlockSize+n])
	var out [sha256.BlockSize + sha256.Size]byte
	copy(out[:], s.opad[:])
	copy(out[sha256.BlockSize:], inner[:])
	sum := sha256.Sum256(out[:])
	return append(dst, sum[:tagLen]...)
}

func (s signer) seal(payload []byte) string {
	return base64.RawURLEncoding.EncodeToString(s.tag(payload, payload))
}

// open checks the tag and returns the payload, decoded into buf; every failure is the same error.
func (s signer) open(tok string, buf *[maxTokenLen]byte) ([]byte, error) {
	if len(tok) == 0 || len(tok) > maxTokenLen {
		return nil, errToken
	}
	var src [maxTokenLen]byte
	n, err := base64.RawURLEncoding.Decode(buf[:], src[:copy(src[:], tok)])
	if err != nil || n < tagLen+2 {
		return nil, errToken
	}
	payload, tag := buf[:n-tagLen], buf[n-tagLen:n]
	var want [tagLen]byte
	s.tag(want[:0], payload)
	if !hmac.Equal(want[:], tag) {
		return nil, errToken
	}
	return payload, nil
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
	var buf [maxTokenLen]byte
	p, err := s.open(tok, &buf)
	if err != nil {
		return queueToken{}, err
	}
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
	const maxPos = 1 << 40
	if r.bad || len(r.b) != 0 || flags&^flagPrequeue != 0 || t.Lane >= MaxLanes || seq == 0 || seq > maxPos || pos > maxPos ||
		t.Fan == "" || !sameEvent || !now.Before(t.Expires) || (t.Prequeue != (pos == 0)) {
		return queueToken{}, errToken
	}
	t.Seq, t.Pos = int64(seq), int64(pos)
	return t, nil
}

// parseAccess verifies an access token for event at now.
func (s signer) parseAccess(tok, event string, now time.Time) (accessToken, error) {
	var buf [maxTokenLen]byte
	p, err := s.open(tok, &buf)
	if err != nil {
		return accessToken{}, err
	}
	r := reader{b: p}
	t := accessToken{Event: event}
	fan, sameEvent := r.header(kindAccess, event)
	t.Fan = fan
	t.Expires = time.Unix(r.varint(), 0)
	if r.bad || len(r.b) != 0 || t.Fan == "" || !sameEvent || !now.Before(t.Expires) {
		return accessToken{}, errToken
	}
	return t, nil
}
