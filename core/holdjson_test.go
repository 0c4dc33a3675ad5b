package core

import (
	"reflect"
	"testing"
)

func TestParseHoldBody(t *testing.T) {
	t.Parallel()
	for body, ok := range map[string]bool{
		`{"items":[{"section":"GA","quantity":2}]}`:                 true,
		` { "seats" : [ "A-1-5" , "A-1-6" ] } `:                     true,
		`{"items":[{"section":"A","quantity":2,"adjacent":true}]}`:  true,
		`{"items":[],"seats":[]}`:                                   true,
		`{}`:                                                        true,
		`{"items":[{"section":"GA","quantity":-1}]}`:                true, // validate refuses it
		`{"items":[{"section":"G\u0041","quantity":1}]}`:            false,
		`{"items":[{"section":"GA","quantity":1.0}]}`:               false,
		`{"items":[{"section":"GA","quantity":01}]}`:                false,
		`{"items":null}`:                                            false,
		`{"items":[],"items":[]}`:                                   false,
		`{"items":[{"section":"GA","quantity":1,"quantity":2}]}`:    false,
		`{"items":[{"section":"GA","quantity":1}],"x":1}`:           false,
		`{"items":[{"section":"GA","quantity":1}]} x`:               false,
		`{"items":[{"section":"GA","quantity":99999999999999999}]}`: false,
		`{"seats":["é"]}`:                                           false,
		`{"items":[{"section":"GA","quantity":1},]}`:                false,
	} {
		var fast, slow holdBody
		got := parseHoldBody([]byte(body), &fast, knownIDs())
		if got != ok {
			t.Errorf("%s: parsed %v, want %v", body, got, ok)
		}
		if got {
			if err := decodeJSON([]byte(body), &slow, false); err != nil || !reflect.DeepEqual(normal(fast), normal(slow)) {
				t.Errorf("%s: fast %+v, encoding/json %+v %v", body, fast, slow, err)
			}
		}
	}
}

// knownIDs has some of the sections the cases use, so both the interned and the allocated reads are exercised.
func knownIDs() *names {
	n := &names{}
	n.add("GA")
	n.add("A")
	return n
}

// normal treats empty and nil slices alike (encoding/json keeps nil for a missing key, the parser too).
func normal(h holdBody) holdBody {
	if len(h.Items) == 0 {
		h.Items = nil
	}
	if len(h.Seats) == 0 {
		h.Seats = nil
	}
	return h
}

// FuzzParseHoldBody: whatever the fast parser accepts, encoding/json accepts and reads the same way.
func FuzzParseHoldBody(f *testing.F) {
	for _, s := range []string{`{"items":[{"section":"GA","quantity":2}]}`, `{"seats":["A-1-5","A-1-6"]}`,
		`{"items":[{"section":"A","quantity":2,"adjacent":true}],"seats":["B-2-1"]}`, `{}`, ` {"items" :[ ]} `,
		`{"items":[{"quantity":-0}]}`, `{"items":[{"adjacent":false}]}`} {
		f.Add([]byte(s))
	}
	ids := knownIDs()
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast, slow holdBody
		if !parseHoldBody(body, &fast, ids) {
			return
		}
		if err := decodeJSON(body, &slow, false); err != nil {
			t.Fatalf("%q: the fast parser accepted what encoding/json refuses: %v", body, err)
		}
		if !reflect.DeepEqual(normal(fast), normal(slow)) {
			t.Fatalf("%q: fast %+v, encoding/json %+v", body, fast, slow)
		}
	})
}
