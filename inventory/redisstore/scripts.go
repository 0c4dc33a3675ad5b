package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/onsale/onsale/inventory"
	"github.com/onsale/onsale/inventory/lua"
)

type scripts struct {
	create, hold, extend, release, checkout, confirm, ret, cancel, wave, sweep, stats, audit, restore *redis.Script
}

func newScripts() scripts {
	return scripts{
		create:   redis.NewScript(lua.Create),
		hold:     redis.NewScript(lua.Hold),
		extend:   redis.NewScript(lua.Extend),
		release:  redis.NewScript(lua.Release),
		checkout: redis.NewScript(lua.Checkout),
		confirm:  redis.NewScript(lua.Confirm),
		ret:      redis.NewScript(lua.Return),
		cancel:   redis.NewScript(lua.Cancel),
		wave:     redis.NewScript(lua.Wave),
		sweep:    redis.NewScript(lua.Sweep),
		stats:    redis.NewScript(lua.Stats),
		audit:    redis.NewScript(lua.Audit),
		restore:  redis.NewScript(lua.Restore),
	}
}

func (sc scripts) all() []*redis.Script {
	return []*redis.Script{sc.create, sc.hold, sc.extend, sc.release, sc.checkout, sc.confirm, sc.ret, sc.cancel,
		sc.wave, sc.sweep, sc.stats, sc.audit, sc.restore}
}

// load sends every script with SCRIPT LOAD (on a cluster, to every shard), so pipelines can use EVALSHA at once.
func (sc scripts) load(ctx context.Context, c redis.Scripter) error {
	for _, s := range sc.all() {
		if err := s.Load(ctx, c).Err(); err != nil {
			return err
		}
	}
	return nil
}

// run runs a script with EVALSHA, falling back to EVAL when the server does not have it, and maps its error.
func (s *Store) run(ctx context.Context, sc *redis.Script, keys []string, args ...any) (any, error) {
	start := time.Now()
	v, err := sc.Run(ctx, s.c, keys, args...).Result()
	s.m.roundtrip.Observe(time.Since(start).Seconds())
	return v, scriptErr(err)
}

// scriptErrors maps the codes the scripts fail with (the first word of the error reply) to the domain errors.
var scriptErrors = map[string]error{
	"NOT_FOUND":         inventory.ErrNotFound,
	"EVENT_EXISTS":      inventory.ErrEventExists,
	"SOLD_OUT":          inventory.ErrSoldOut,
	"SEATS_UNAVAILABLE": inventory.ErrSeatsUnavailable,
	"LIMIT_EXCEEDED":    inventory.ErrLimitExceeded,
	"HOLD_EXPIRED":      inventory.ErrHoldExpired,
	"INVALID_STATE":     inventory.ErrInvalidState,
	"IDEM_REUSED":       inventory.ErrIdempotencyReused,
	"EVENT_CLOSED":      inventory.ErrEventClosed,
	"INVALID":           inventory.ErrInvalid,
}

// scriptErr is the one place script replies become domain errors; anything else (network, Redis) passes as is.
func scriptErr(err error) error {
	if err == nil {
		return nil
	}
	var re redis.Error
	if !errors.As(err, &re) {
		return err
	}
	// A reply without a space gets Redis's generic "ERR " in front of it.
	if dom := codeErr(strings.TrimPrefix(re.Error(), "ERR ")); dom != nil {
		return dom
	}
	return err
}

// codeErr maps "<CODE> <detail>" to its domain error, or nil when the code is not one of the scripts'.
func codeErr(msg string) error {
	re := refusalOf(msg)
	switch {
	case re == nil:
		return nil
	case re.detail == "":
		return re.dom
	}
	return re
}

// refusalOf is codeErr's error as a *refusal, so that Hold can name the event and fan in it.
func refusalOf(msg string) *refusal {
	code, detail, _ := strings.Cut(msg, " ")
	dom, ok := scriptErrors[code]
	if !ok {
		return nil
	}
	return &refusal{dom: dom, detail: detail}
}

// refusal is a script's refusal by one of its codes ("<CODE> <detail>"): it reads "<domain error>: <detail>" and,
// from Hold, "hold <event> for <fan>: " before that, as formatted wraps would, but costs one allocation, not two
// formatted errors: at a sell-out every hold is refused.
type refusal struct {
	dom                error // the code's domain error
	detail, event, fan string
	named              bool // the event and fan are given: "hold <event> for <fan>: " leads the text
}

func (e *refusal) Error() string {
	sep := ""
	if e.detail != "" {
		sep = ": "
	}
	if e.named {
		return "hold " + e.event + " for " + e.fan + ": " + e.dom.Error() + sep + e.detail
	}
	return e.dom.Error() + sep + e.detail
}

func (e *refusal) Unwrap() error { return e.dom }

func isNoScript(err error) bool {
	return err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT"))
}

// toInt reads an integer reply, which scripts give as a number or a string.
func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("script reply %q: not an integer", x)
		}
		return n, nil
	case nil:
		return 0, nil
	default:
		return 0, fmt.Errorf("script reply %T: not an integer", v)
	}
}

func toStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case []byte:
		return string(x)
	default:
		return ""
	}
}
