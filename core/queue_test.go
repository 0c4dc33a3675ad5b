package core

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/onsale/onsale/waitroom"
)

// TestAppendStatus: every state, including those written from ready-made JSON, encodes as the API's status.
func TestAppendStatus(t *testing.T) {
	t.Parallel()
	for _, state := range []waitroom.State{waitroom.Prequeue, waitroom.Waiting, waitroom.Admitted, waitroom.SoldOut, waitroom.Closed} {
		st := waitroom.Status{State: state, Position: 12, Ahead: 3, EstimatedWait: 1500 * time.Millisecond,
			PollAfter: 2 * time.Second, Lane: "fan-club", QueueToken: "q.tok", Remaining: -1}
		var got map[string]any
		if err := json.Unmarshal(appendStatus(nil, &st), &got); err != nil {
			t.Fatalf("%s: %v", state, err)
		}
		want := map[string]any{"state": string(state), "position": 12.0, "ahead": 3.0, "estimated_wait_s": 2.0,
			"poll_after_ms": 2000.0, "lane": "fan-club", "queue_token": "q.tok"}
		if len(got) != len(want) {
			t.Fatalf("%s: %v", state, got)
		}
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("%s: %s = %v, want %v", state, k, got[k], v)
			}
		}
	}
	// A waiting fan is told the units left.
	st := waitroom.Status{State: waitroom.Waiting, Position: 12, Remaining: 30, RemainingHeld: true}
	var got map[string]any
	if err := json.Unmarshal(appendStatus(nil, &st), &got); err != nil || got["remaining"] != 30.0 || got["remaining_held"] != true {
		t.Fatalf("remaining: %v %v", got, err)
	}
	st.State = waitroom.Admitted
	got = nil
	if b := appendStatus(nil, &st); json.Unmarshal(b, &got) != nil || got["remaining"] != nil {
		t.Fatalf("remaining once admitted: %s", b)
	}
}
