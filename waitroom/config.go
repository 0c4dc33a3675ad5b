package waitroom

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// stored is what the Room keeps in the store for an event: the configuration with its waves in start order, and
// the lane number of each presale wave (stable across reconfigurations, since fans' places carry it).
type stored struct {
	Config Config         `json:"config"`
	Lanes  map[string]int `json:"lanes"` // wave id → code lane number (1..MaxLanes-1)
}

// eventConfig is a parsed, validated configuration with its lookups.
type eventConfig struct {
	stored
	version  int64
	laneName [MaxLanes]string // lane number → wave id ("" for the general lane)
	codes    map[string]int   // upper-cased code → lane
	general  bool             // some wave admits the general lane
}

func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validFan accepts printable identities of at most 256 bytes (OIDC subjects, e-mail addresses, dev names).
func validFan(s string) bool {
	if s == "" || len(s) > 256 || !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// validate checks cfg and returns it with its waves sorted by start.
func validate(cfg Config) (Config, error) {
	if !validID(cfg.Event) {
		return cfg, fmt.Errorf("%w: event id %q", ErrInvalid, cfg.Event)
	}
	if len(cfg.Waves) == 0 {
		return cfg, fmt.Errorf("%w: at least one wave", ErrInvalid)
	}
	if cfg.ClaimTTL < 0 || cfg.IdleTTL < 0 || cfg.ClaimTTL > 0 && cfg.ClaimTTL < time.Second || cfg.IdleTTL > 0 && cfg.IdleTTL < time.Second {
		return cfg, fmt.Errorf("%w: claim and idle TTLs must be at least 1s", ErrInvalid)
	}
	waves := slices.Clone(cfg.Waves)
	slices.SortStableFunc(waves, func(a, b Wave) int { return a.StartsAt.Compare(b.StartsAt) })
	ids := map[string]bool{}
	codes := map[string]bool{}
	lanes := 0
	for i, w := range waves {
		switch {
		case !validID(w.ID):
			return cfg, fmt.Errorf("%w: wave id %q", ErrInvalid, w.ID)
		case ids[w.ID]:
			return cfg, fmt.Errorf("%w: wave %q twice", ErrInvalid, w.ID)
		case w.StartsAt.IsZero():
			return cfg, fmt.Errorf("%w: wave %q has no starts_at", ErrInvalid, w.ID)
		case w.AdmitPerMin < 1 || w.AdmitPerMin > 10_000_000:
			return cfg, fmt.Errorf("%w: wave %q admit_per_min must be 1..10000000", ErrInvalid, w.ID)
		case w.MaxActive < 1 || w.MaxActive > 100_000_000:
			return cfg, fmt.Errorf("%w: wave %q max_active must be 1..100000000", ErrInvalid, w.ID)
		case i > 0 && w.StartsAt.Equal(waves[i-1].StartsAt):
			return cfg, fmt.Errorf("%w: waves %q and %q start at the same time", ErrInvalid, waves[i-1].ID, w.ID)
		}
		ids[w.ID] = true
		if len(w.Codes) > 0 {
			lanes++
		}
		for _, c := range w.Codes {
			u := strings.ToUpper(c)
			if c == "" || len(c) > 64 || !utf8.ValidString(c) {
				return cfg, fmt.Errorf("%w: wave %q has an empty or too long code", ErrInvalid, w.ID)
			}
			if codes[u] {
				return cfg, fmt.Errorf("%w: code %q in two waves", ErrInvalid, c)
			}
			codes[u] = true
		}
		for sec, n := range w.Release {
			if sec == "" || n < 0 {
				return cfg, fmt.Errorf("%w: wave %q release %q: %d", ErrInvalid, w.ID, sec, n)
			}
		}
	}
	if lanes > MaxLanes-1 {
		return cfg, fmt.Errorf("%w: at most %d presale waves", ErrInvalid, MaxLanes-1)
	}
	cfg.Waves = waves
	return cfg, nil
}

// assignLanes numbers cfg's presale waves, keeping the numbers prev gave the same wave ids.
func assignLanes(cfg Config, prev map[string]int) map[string]int {
	lanes := map[string]int{}
	used := map[int]bool{}
	for _, w := range cfg.Waves {
		if n, ok := prev[w.ID]; ok && len(w.Codes) > 0 {
			lanes[w.ID], used[n] = n, true
		}
	}
	next := 1
	for _, w := range cfg.Waves {
		if len(w.Codes) == 0 || lanes[w.ID] != 0 {
			continue
		}
		for used[next] {
			next++
		}
		// Numbers freed by removed waves are reused only past the ones still in use; with at most
		// MaxLanes-1 presale waves at a time and lanes kept by id, next stays below MaxLanes
		// unless a reconfiguration churns ids, which Configure then refuses.
		lanes[w.ID], used[next] = next, true
	}
	return lanes
}

func parseStored(b []byte, version int64) (*eventConfig, error) {
	var s stored
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode stored configuration: %w", err)
	}
	c := &eventConfig{stored: s, version: version, codes: map[string]int{}}
	for _, w := range s.Config.Waves {
		if len(w.Codes) == 0 {
			c.general = true
			continue
		}
		n := s.Lanes[w.ID]
		if n <= 0 || n >= MaxLanes {
			return nil, fmt.Errorf("stored configuration: wave %q has lane %d", w.ID, n)
		}
		c.laneName[n] = w.ID
		for _, code := range w.Codes {
			c.codes[strings.ToUpper(code)] = n
		}
	}
	return c, nil
}

// openAt is when the on-sale opens: the first wave's start.
func (c *eventConfig) openAt() time.Time { return c.Config.Waves[0].StartsAt }

// current returns the index of the current wave at now (the last one started), or -1 before open.
func (c *eventConfig) current(now time.Time) int {
	cur := -1
	for i, w := range c.Config.Waves {
		if !w.StartsAt.After(now) {
			cur = i
		}
	}
	return cur
}

// laneOf returns the lane a join with code goes to.
func (c *eventConfig) laneOf(code string) (int, error) {
	if code == "" {
		if !c.general {
			return 0, fmt.Errorf("%w: this on-sale admits code holders only", ErrBadCode)
		}
		return 0, nil
	}
	n, ok := c.codes[strings.ToUpper(code)]
	if !ok {
		return 0, ErrBadCode
	}
	return n, nil
}

// lanesAt returns the lanes the current wave admits from, highest priority first: the code lanes of every wave
// that has started (earlier presales first, so their holders keep priority), then the general lane when the
// current wave is a general one.
func (c *eventConfig) lanesAt(cur int) []int {
	if cur < 0 {
		return nil
	}
	var lanes []int
	for _, w := range c.Config.Waves[:cur+1] {
		if len(w.Codes) > 0 {
			lanes = append(lanes, c.Lanes[w.ID])
		}
	}
	if len(c.Config.Waves[cur].Codes) == 0 {
		lanes = append(lanes, 0)
	}
	return lanes
}
