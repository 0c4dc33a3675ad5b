package amqpbus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/onsale/onsale/settlement"
)

// EnvelopeType is the content type of an AMQP message that carries several saga messages of one topic: a JSON
// array of {"id", "topic", "body"}. The broker's cost (routing, quorum log write, delivery, ack, confirm) is per
// AMQP message, so packing the rows of one relay round into envelopes pays it once per envelope, not per order.
const EnvelopeType = "application/vnd.onsale.batch+json"

// AttemptHeader carries how many deliveries an envelope's messages already had, on an envelope the consumer
// republished to the retry queue (a plain message counts its attempts in the broker's x-death header instead).
const AttemptHeader = "x-onsale-attempts"

const maxEnvelopeBytes = 1 << 20 // beyond this an envelope is split, whatever Options.Batch says

// item is one saga message inside an envelope.
type item struct {
	ID    string          `json:"id"`
	Topic string          `json:"topic"`
	Body  json.RawMessage `json:"body"`
}

// group splits msgs into publishable units: runs of one topic up to limit messages (and maxEnvelopeBytes), in
// the order of each topic's first message. A unit of one message, or one whose body is not JSON, goes plain.
func group(msgs []settlement.Message, limit int) [][]settlement.Message {
	if limit <= 1 || len(msgs) == 1 {
		out := make([][]settlement.Message, len(msgs))
		for i := range msgs {
			out[i] = msgs[i : i+1]
		}
		return out
	}
	var out [][]settlement.Message
	open := map[string]int{} // topic → index in out of its unit still taking messages
	size := map[string]int{}
	for i := range msgs {
		m := msgs[i]
		if !json.Valid(m.Body) {
			out = append(out, msgs[i:i+1])
			continue
		}
		n := len(m.ID) + len(m.Topic) + len(m.Body) + 32
		if j, ok := open[m.Topic]; ok && len(out[j]) < limit && size[m.Topic]+n <= maxEnvelopeBytes {
			out[j] = append(out[j], m)
			size[m.Topic] += n
			continue
		}
		open[m.Topic] = len(out)
		size[m.Topic] = n
		out = append(out, []settlement.Message{m})
	}
	return out
}

// encodeEnvelope writes msgs as an envelope body. Bodies are copied as they are (they are JSON already).
func encodeEnvelope(msgs []item) []byte {
	n := 2
	for _, m := range msgs {
		n += len(m.ID) + len(m.Topic) + len(m.Body) + 32
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, m := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendString(b, m.ID)
		b = append(b, `,"topic":`...)
		b = appendString(b, m.Topic)
		b = append(b, `,"body":`...)
		b = append(b, m.Body...)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendString appends s as a JSON string; ids and topics are plain ASCII, anything else takes encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

var errEmptyEnvelope = errors.New("empty envelope")

// decodeEnvelope reads an envelope body; every message needs an id and a topic. Bodies are slices of body.
func decodeEnvelope(body []byte) ([]item, error) {
	items, ok := scanEnvelope(body)
	if !ok {
		// Not as encodeEnvelope writes it (escapes in an id, other spacing, or broken): encoding/json decides.
		items = nil
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, fmt.Errorf("envelope: %w", err)
		}
	}
	if len(items) == 0 {
		return nil, errEmptyEnvelope
	}
	for i, it := range items {
		if it.ID == "" || it.Topic == "" {
			return nil, fmt.Errorf("envelope: message %d has no id or topic", i)
		}
	}
	return items, nil
}

// scanEnvelope reads an envelope exactly as encodeEnvelope writes it, without reflection or copies; it reports
// false for anything else. A body's end is found by bracket counting: encodeEnvelope only packs valid JSON, and
// a handler still parses the body it gets.
//
// The ids are copied into one string for the whole envelope, and a topic like the one before it is that one:
// two allocations per envelope instead of two per message.
func scanEnvelope(b []byte) ([]item, bool) {
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, false
	}
	n := bytes.Count(b, []byte(`{"id":"`))
	items := make([]item, 0, n)
	ends := make([]int, 0, n) // where each id ends in ids
	var ids strings.Builder
	ids.Grow(n * 32)
	var topic []byte
	i := 1
	for {
		var it item
		var id, t []byte
		var ok bool
		if !bytes.HasPrefix(b[i:], []byte(`{"id":`)) {
			return nil, false
		}
		if id, i, ok = plainString(b, i+6); !ok || !bytes.HasPrefix(b[i:], []byte(`,"topic":`)) {
			return nil, false
		}
		if t, i, ok = plainString(b, i+9); !ok || !bytes.HasPrefix(b[i:], []byte(`,"body":`)) {
			return nil, false
		}
		ids.Write(id)
		ends = append(ends, ids.Len())
		if len(items) > 0 && bytes.Equal(t, topic) {
			it.Topic = items[len(items)-1].Topic
		} else {
			it.Topic, topic = string(t), t
		}
		i += 8
		end := skipValue(b, i)
		if end < 0 || end >= len(b) || b[end] != '}' {
			return nil, false
		}
		it.Body = b[i:end:end]
		items = append(items, it)
		i = end + 1
		switch {
		case i == len(b)-1:
			all, from := ids.String(), 0
			for k := range items {
				items[k].ID, from = all[from:ends[k]], ends[k]
			}
			return items, true
		case b[i] == ',':
			i++
		default:
			return nil, false
		}
	}
}

// plainString reads a JSON string at b[i] without escapes or control bytes; it returns its contents and the index
// after it.
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return b[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// skipValue returns the index after the compact JSON value at b[i] (a string, an object or array, or a literal
// or number), or -1.
func skipValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i >= len(b) {
				return -1
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of a literal or number, at its container's close
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}
