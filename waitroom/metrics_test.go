package waitroom_test

import (
	"testing"
	"time"

	"github.com/onsale/onsale/waitroom"
	"github.com/prometheus/client_golang/prometheus"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	b := setup(t, "mem", general(600, 100), func(o *waitroom.Options) { o.Registerer = reg })
	tickets := b.joinN(t, 10)
	b.tick(t, 0)
	b.tick(t, time.Second)
	b.status(t, tickets[0].Token) // claims access: observes the wait
	b.tick(t, time.Second)
	gather := func() map[string]float64 {
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
				if len(m.GetLabel()) != 1 || m.GetLabel()[0].GetName() != "event" || m.GetLabel()[0].GetValue() != b.ev {
					t.Fatalf("%s labels %v", f.GetName(), m.GetLabel())
				}
				got[f.GetName()] = v
			}
		}
		return got
	}
	got := gather()
	want := map[string]float64{
		"onsale_waitroom_paused":             0,
		"onsale_waitroom_joins_total":        10,
		"onsale_waitroom_admitted_total":     10,
		"onsale_waitroom_queued":             0,
		"onsale_waitroom_active":             10,
		"onsale_waitroom_queue_wait_seconds": 1,
	}
	for name, v := range want {
		if g, ok := got[name]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", name, g, ok, v)
		}
	}
	if got["onsale_waitroom_admit_rate_per_min"] <= 0 {
		t.Errorf("measured rate gauge %v", got["onsale_waitroom_admit_rate_per_min"])
	}
	paused := true
	if err := b.room.SetAdmission(b.ctx, b.ev, waitroom.Admission{Paused: &paused}); err != nil {
		t.Fatal(err)
	}
	b.tick(t, time.Second)
	if g := gather()["onsale_waitroom_paused"]; g != 1 {
		t.Errorf("paused gauge while paused: %v", g)
	}
}
