package core

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body string
		ok         bool
	}{
		{"items", `{"items":[{"section":"GA","quantity":2}]}`, true},
		{"seats", `{"seats":["A-1-5","A-1-6"]}`, true},
		{"adjacent", `{"items":[{"section":"A","quantity":2,"adjacent":true}]}`, true},
		{"malformed", `{"items":[`, false},
		{"unknown field", `{"item":[]}`, false},
		{"nested unknown field", `{"items":[{"section":"GA","qty":2}]}`, false},
		{"wrong type", `{"items":[{"section":"GA","quantity":"2"}]}`, false},
		{"overflow", `{"items":[{"section":"GA","quantity":99999999999999999999}]}`, false},
		{"trailing", `{"items":[]} x`, false},
		{"two objects", `{}{}`, false},
		{"null", `null`, true}, // decodes to the zero value; validate refuses it
		{"empty", ``, false},
	}
	for _, c := range cases {
		var h holdBody
		err := decodeJSON([]byte(c.body), &h, false)
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v", c.name, err)
		}
		var p *problemError
		if err != nil && (!errors.As(err, &p) || p.status != 400) {
			t.Errorf("%s: %v is not a 400 problem", c.name, err)
		}
	}
	var h holdBody
	if err := decodeJSON([]byte(`{"seats":["`+strings.Repeat("x", maxBody)+`"]}`), &h, false); !errors.Is(err, errTooLarge) {
		t.Errorf("oversized: %v", err)
	}
	var j joinBody
	if err := decodeJSON(nil, &j, true); err != nil {
		t.Errorf("an empty join body stands for {}: %v", err)
	}
}

func TestHoldBodyValidate(t *testing.T) {
	t.Parallel()
	for body, ok := range map[string]bool{
		`{"items":[{"section":"GA","quantity":2}]}`:                                true,
		`{"items":[{"section":"GA","quantity":0}]}`:                                false,
		`{"items":[{"section":"GA","quantity":-3}]}`:                               false,
		`{"items":[{"section":"","quantity":1}]}`:                                  false,
		`{"items":[{"section":"GA","quantity":101}]}`:                              false,
		`{"items":[{"section":"GA","quantity":60},{"section":"B","quantity":41}]}`: false,
		`{"seats":[""]}`: false,
		`{}`:             false,
		`{"seats":["A-1-1"],"items":[{"section":"GA","quantity":1}]}`: true,
	} {
		var h holdBody
		if err := decodeJSON([]byte(body), &h, false); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if err := h.validate(); (err == nil) != ok {
			t.Errorf("%s: validate %v", body, err)
		}
	}
}

func TestEventBodyBuild(t *testing.T) {
	t.Parallel()
	body := `{"id":"tour-paris","name":"Paris","currency":"EUR","hold_ttl_s":600,"max_per_fan":4,
	  "sections":[{"id":"GA","kind":"general","capacity":5000,"price":4500},
	    {"id":"A","kind":"seated","price":9000,"rows":[{"row":"1","seats":20},{"row":"2","seats":22}]},
	    {"id":"B","kind":"general","capacity":10,"price":100}],
	  "waves":[{"id":"presale","starts_at":"2030-01-01T10:00:00Z","admit_per_min":600,"max_active":500,
	      "codes":["FANCLUB"],"release":{"GA":1000,"A":42}},
	    {"id":"general","starts_at":"2030-01-01T12:00:00Z","admit_per_min":3000,"max_active":2000,"release":{"GA":4000}}]}`
	var b eventBody
	if err := decodeJSON([]byte(body), &b, false); err != nil {
		t.Fatal(err)
	}
	ev, cfg, err := b.build(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Sections named in a release start withheld entirely; B is not named, so it is buyable at once.
	if ev.Withheld["GA"] != 5000 || ev.Withheld["A"] != 42 || ev.Withheld["B"] != 0 || len(ev.Withheld) != 2 {
		t.Errorf("withheld %v", ev.Withheld)
	}
	if ev.HoldTTL != 10*time.Minute || ev.Sections[1].Capacity != 42 {
		t.Errorf("event %+v", ev)
	}
	if len(cfg.Waves) != 2 || cfg.Waves[0].Codes[0] != "FANCLUB" || cfg.Waves[1].Release["GA"] != 4000 || cfg.Event != "tour-paris" {
		t.Errorf("config %+v", cfg)
	}
}

// FuzzHoldBody: no input makes the hold decoder panic, and what passes validation is a sane request.
func FuzzHoldBody(f *testing.F) {
	for _, s := range []string{`{"items":[{"section":"GA","quantity":2}]}`, `{"seats":["A-1-5"]}`,
		`{"items":[{"section":"A","quantity":2,"adjacent":true}]}`, `{"items":[{"section":"GA","quantity":-1}]}`,
		`{"items":`, `[]`, `null`, `{"seats":null}`, "\x00", `{"items":[{"section":"GA","quantity":1e3}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var h holdBody
		if err := decodeJSON(body, &h, false); err != nil {
			var p *problemError
			if !errors.As(err, &p) || p.status >= 500 {
				t.Fatalf("decode error %v is not a 4xx problem", err)
			}
			return
		}
		if h.validate() != nil {
			return
		}
		units := len(h.Seats)
		for _, it := range h.Items {
			if it.Quantity < 1 || it.Section == "" {
				t.Fatalf("validated item %+v", it)
			}
			units += it.Quantity
		}
		if units < 1 || units > maxHoldUnits {
			t.Fatalf("validated %d units", units)
		}
	})
}

// FuzzEventBody: no organizer input makes the event decoder or validation panic, and an accepted event keeps the
// contract's bounds.
func FuzzEventBody(f *testing.F) {
	f.Add([]byte(`{"id":"e","name":"n","currency":"EUR","hold_ttl_s":60,"max_per_fan":2,"sections":[{"id":"GA","kind":"general","capacity":5,"price":1}],"waves":[{"id":"w","admit_per_min":1,"max_active":1,"release":{"GA":2}}]}`))
	f.Add([]byte(`{"id":"e","currency":"EUR","hold_ttl_s":60,"max_per_fan":2,"sections":[{"id":"A","kind":"seated","price":1,"rows":[{"row":"1","seats":3}]}],"waves":[{"id":"w","admit_per_min":1,"max_active":1,"release":{"A":9}}]}`))
	f.Add([]byte(`{"hold_ttl_s":-1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var b eventBody
		if err := decodeJSON(body, &b, false); err != nil {
			return
		}
		ev, cfg, err := b.build(time.Unix(0, 0))
		if err != nil {
			var p *problemError
			if !errors.As(err, &p) && !strings.Contains(err.Error(), "invalid") {
				t.Fatalf("build error %v is neither a problem nor ErrInvalid", err)
			}
			return
		}
		if ev.HoldTTL < time.Second || ev.HoldTTL > time.Hour || ev.MaxPerFan < 1 || len(cfg.Waves) == 0 {
			t.Fatalf("accepted %+v", ev)
		}
		for _, w := range cfg.Waves {
			if w.AdmitPerMin < 1 || w.MaxActive < 1 {
				t.Fatalf("accepted wave %+v", w)
			}
		}
	})
}

// FuzzAdmissionAndJoin covers the two small bodies.
func FuzzAdmissionAndJoin(f *testing.F) {
	for _, s := range []string{`{"paused":true}`, `{"admit_per_min":1200,"max_active":800}`, `{"admit_per_min":0}`,
		`{"fan":"alice","code":"FANCLUB"}`, `{"fan":1}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var a admissionBody
		if decodeJSON(body, &a, false) == nil && a.validate() == nil {
			if (a.AdmitPerMin != nil && *a.AdmitPerMin < 1) || (a.MaxActive != nil && *a.MaxActive < 1) {
				t.Fatalf("accepted %+v", a)
			}
		}
		var j joinBody
		_ = decodeJSON(body, &j, true)
		var c checkoutBody
		_ = decodeJSON(body, &c, false)
	})
}

// FuzzAppendJSONString: whatever the bytes, the output is one valid JSON string holding the input (invalid UTF-8
// replaced).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `quo"te\back`, "new\nline\t\x00\x1f", "<&>", "é€😀", "\xff\xfe", "a\u2028b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q → %s: %v", s, b, err)
		}
		if want := strings.ToValidUTF8(s, "\uFFFD"); utf8.ValidString(s) && got != want {
			t.Fatalf("%q round-tripped to %q", s, got)
		}
	})
}

// FuzzMatchPath: no path makes the router panic, and a matched id never contains a slash.
func FuzzMatchPath(f *testing.F) {
	for _, s := range []string{"/v1/events/e/holds", "/v1/holds/e.abc/checkout", "/v1/events//queue", "/e/", "/e/x/", "/o/", "/o/x/",
		"/v1/admin/events/x/stats", "/v1/orders/", "//", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		id, arg := matchPath([]byte(p))
		if id < 0 || id > nPatterns || strings.Contains(string(arg), "/") {
			t.Fatalf("%q → %d %q", p, id, arg)
		}
		if id != nPatterns && id >= pPage && len(arg) == 0 && (id == pPage || id == pOrderPage || id >= pAdminEvent && id != pWebhook) {
			t.Fatalf("%q matched %d with an empty id", p, id)
		}
	})
}
