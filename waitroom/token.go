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

type signer struct{ key []byte }

func newSigner(secret []byte) signer {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("onsale/waitroom/token/v1"))
	return signer{key: m.Sum(nil)}
}

func (s signer) seal(payload []byte) string {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	out := m.Sum(payload)[:len(payload)+tagLen]
	return base64.RawURLEncoding.EncodeToString(out)
}

// open checks the tag and returns the payload; every failure is the same error.
func (s signer) open(tok string) ([]byte, error) {
	if len(tok) == 0 || len(tok) > maxTokenLen {
		return nil, errToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) < tagLen+2 {
		return nil, errToken
	}
	payload, tag := raw[:len(raw)-tagLen], raw[len(raw)-tagLen:]
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	if !hmac.Equal(m.Sum(nil)[:tagLen], tag) {
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

func (r *reader) header(kind byte) (event, fan string) {
	if r.byte() != tokenVersion || r.byte() != kind {
		r.bad = true
		return "", ""
	}
	event = r.string()
	fan = r.string()
	return event, fan
}

// parseQueue verifies a queue token for event at now.
func (s signer) parseQueue(tok, event string, now time.Time) (queueToken, error) {
	p, err := s.open(tok)
	if err != nil {
		return queueToken{}, err
	}
	r := reader{b: p}
	var t queueToken
	t.Event, t.Fan = r.header(kindQueue)
	t.Lane = int(r.byte())
	flags := r.byte()
	t.Prequeue = flags&flagPrequeue != 0
	seq, pos := r.uvarint(), r.uvarint()
	t.Issued = time.Unix(r.varint(), 0)
	t.Joined = time.Unix(r.varint(), 0)
	t.Expires = time.Unix(r.varint(), 0)
	const maxPos = 1 << 40
	if r.bad || len(r.b) != 0 || flags&^flagPrequeue != 0 || t.Lane >= MaxLanes || seq == 0 || seq > maxPos || pos > maxPos ||
		t.Fan == "" || t.Event != event || !now.Before(t.Expires) || (t.Prequeue != (pos == 0)) {
		return queueToken{}, errToken
	}
	t.Seq, t.Pos = int64(seq), int64(pos)
	return t, nil
}

// parseAccess verifies an access token for event at now.
func (s signer) parseAccess(tok, event string, now time.Time) (accessToken, error) {
	p, err := s.open(tok)
	if err != nil {
		return accessToken{}, err
	}
	r := reader{b: p}
	var t accessToken
	t.Event, t.Fan = r.header(kindAccess)
	t.Expires = time.Unix(r.varint(), 0)
	if r.bad || len(r.b) != 0 || t.Fan == "" || t.Event != event || !now.Before(t.Expires) {
		return accessToken{}, errToken
	}
	return t, nil
}
