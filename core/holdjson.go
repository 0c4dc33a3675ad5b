package core

import "github.com/onsale/onsale/inventory"

// parseHoldBody is the hold path's JSON reader: a strict subset of JSON for the hold body's own shape, with no
// reflection. It accepts only what it can read exactly as encoding/json would (plain ASCII strings without escapes,
// integers, booleans, each key at most once); for anything else it returns false and the caller falls back to
// decodeJSON, which gives the precise error. FuzzParseHoldBody holds it to encoding/json's answers. Section ids
// known to ids (which may be nil) are read without allocating.
func parseHoldBody(b []byte, h *holdBody, ids *names) bool {
	p := holdParser{b: b, ids: ids}
	if !p.byte('{') {
		return false
	}
	var sawItems, sawSeats bool
	if p.peek('}') {
		p.i++
		return p.end()
	}
	for {
		key, ok := p.raw()
		if !ok || !p.byte(':') {
			return false
		}
		switch string(key) {
		case "items":
			if sawItems || !p.items(h) {
				return false
			}
			sawItems = true
		case "seats":
			if sawSeats || !p.seats(h) {
				return false
			}
			sawSeats = true
		default:
			return false
		}
		if p.peek(',') {
			p.i++
			continue
		}
		return p.byte('}') && p.end()
	}
}

type holdParser struct {
	b   []byte
	i   int
	ids *names
}

func (p *holdParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c after optional whitespace.
func (p *holdParser) byte(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// peek reports whether c comes next (after whitespace), without consuming it.
func (p *holdParser) peek(c byte) bool {
	p.ws()
	return p.i < len(p.b) && p.b[p.i] == c
}

func (p *holdParser) end() bool {
	p.ws()
	return p.i == len(p.b)
}

// raw reads a string of printable ASCII without escapes and returns its bytes (a slice of the body).
func (p *holdParser) raw() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			return s, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// str is raw as a string of its own.
func (p *holdParser) str() (string, bool) {
	b, ok := p.raw()
	return string(b), ok
}

// int reads an integer without fraction or exponent, small enough never to overflow.
func (p *holdParser) int() (int, bool) {
	p.ws()
	neg := false
	if p.i < len(p.b) && p.b[p.i] == '-' {
		neg = true
		p.i++
	}
	start, n := p.i, 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		n = n*10 + int(p.b[p.i]-'0')
		p.i++
	}
	digits := p.i - start
	if digits == 0 || digits > 15 || (digits > 1 && p.b[start] == '0') {
		return 0, false
	}
	if p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

func (p *holdParser) bool() (bool, bool) {
	p.ws()
	rest := p.b[p.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		p.i += 4
		return true, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		p.i += 5
		return false, true
	}
	return false, false
}

func (p *holdParser) items(h *holdBody) bool {
	if !p.byte('[') {
		return false
	}
	h.Items = make([]inventory.Item, 0, 2)
	if p.peek(']') {
		p.i++
		return true
	}
	for {
		var it inventory.Item
		if !p.item(&it) {
			return false
		}
		h.Items = append(h.Items, it)
		if p.peek(',') {
			p.i++
			continue
		}
		return p.byte(']')
	}
}

func (p *holdParser) item(it *inventory.Item) bool {
	if !p.byte('{') {
		return false
	}
	if p.peek('}') {
		p.i++
		return true
	}
	var seen [3]bool
	for {
		key, ok := p.raw()
		if !ok || !p.byte(':') {
			return false
		}
		var k int
		switch string(key) {
		case "section":
			var b []byte
			b, ok = p.raw()
			it.Section = p.ids.get(b)
		case "quantity":
			k = 1
			it.Quantity, ok = p.int()
		case "adjacent":
			k = 2
			it.Adjacent, ok = p.bool()
		default:
			return false
		}
		if !ok || seen[k] {
			return false
		}
		seen[k] = true
		if p.peek(',') {
			p.i++
			continue
		}
		return p.byte('}')
	}
}

func (p *holdParser) seats(h *holdBody) bool {
	if !p.byte('[') {
		return false
	}
	h.Seats = make([]string, 0, 4)
	if p.peek(']') {
		p.i++
		return true
	}
	for {
		s, ok := p.str()
		if !ok {
			return false
		}
		h.Seats = append(h.Seats, s)
		if p.peek(',') {
			p.i++
			continue
		}
		return p.byte(']')
	}
}
