package redisstore

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/onsale/onsale/inventory"
)

// TestHoldCost drives the hold script for measuring the server's cost per hold (`scripts/bench-inventory.sh cost` runs
// it against a private redis-server under callgrind): HOLDCOST_N holds after a warm-up of N/10, HOLDCOST_K per script
// call (default 25), 1 unit of a general section or, with HOLDCOST_SEATED=1, 2 adjacent seats of a 100×100 seated
// one; HOLDCOST_FANS fans take turns (default 4096; 1 is the HTTP benchmark's single fan); the commands HOLDCOST_BEFORE and HOLDCOST_AFTER run around the measured holds. Skipped without HOLDCOST_N.
func TestHoldCost(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("HOLDCOST_N"))
	if n == 0 {
		t.Skip("HOLDCOST_N not set")
	}
	k, _ := strconv.Atoi(os.Getenv("HOLDCOST_K"))
	if k == 0 {
		k = 25
	}
	fans, _ := strconv.Atoi(os.Getenv("HOLDCOST_FANS"))
	if fans <= 0 {
		fans = 4096
	}
	seated := os.Getenv("HOLDCOST_SEATED") == "1"
	bb := newBundle(t, Options{MaxBatch: 1})
	var ev inventory.Event
	if seated {
		rows := make([]int, 100)
		for i := range rows {
			rows[i] = 100
		}
		ev = testEvent(seatedSection("S", 100, rows...))
	} else {
		ev = testEvent(gaSection("GA", inventory.MaxGeneralCapacity, 100))
	}
	ev.HoldTTL = time.Hour
	ev.MaxPerFan = 1 << 30
	ev = bb.create(t, ev)
	i := 0
	send := func(total int) {
		for sent := 0; sent < total; sent += k {
			batch := make([]*holdCall, 0, k)
			for j := 0; j < k && sent+j < total; j++ {
				i++
				req := inventory.HoldRequest{Event: ev.ID, Fan: "f" + strconv.Itoa(i%fans),
					Items: []inventory.Item{{Section: "GA", Quantity: 1}}}
				if seated {
					req.Items = []inventory.Item{{Section: "S", Quantity: 2, Adjacent: true}}
				}
				c, err := bb.s.holdCall(req)
				if err != nil {
					t.Fatal(err)
				}
				batch = append(batch, c)
			}
			bb.s.batch.exec(bb.ctx, nil, batch)
			for _, c := range batch {
				if c.err != nil {
					t.Fatal(c.err)
				}
				if _, err := holdFromReply(c, "", c.v); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	hook := func(name string) {
		if cmd := os.Getenv(name); cmd != "" {
			f := strings.Fields(cmd)
			if out, err := exec.Command(f[0], f[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v %s", cmd, err, out)
			}
		}
	}
	send(n / 10)
	hook("HOLDCOST_BEFORE")
	send(n)
	hook("HOLDCOST_AFTER")
}
