package waitroom_test

import (
	"context"
	"fmt"
	"time"

	"github.com/onsale/onsale/waitroom"
	"github.com/onsale/onsale/waitroom/memstore"
	"github.com/prometheus/client_golang/prometheus"
)

// plenty is a Stock with units to spare.
type plenty struct{}

func (plenty) Remaining(context.Context, string) (int, int, error) { return 1000, 0, nil }
func (plenty) ReleaseWave(context.Context, string, string, map[string]int) error {
	return nil
}

// A fan joins, watches the place move, and gets an access token when admitted.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	room, err := waitroom.New(memstore.New(), plenty{}, waitroom.Options{
		Secret: []byte("a key of at least sixteen bytes"), Tick: 10 * time.Millisecond, Refresh: 5 * time.Millisecond,
		Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		panic(err)
	}
	err = room.Configure(ctx, waitroom.Config{Event: "tour-paris", Waves: []waitroom.Wave{
		{ID: "general", StartsAt: time.Now().Add(-time.Minute), AdmitPerMin: 6000, MaxActive: 100},
	}})
	if err != nil {
		panic(err)
	}
	ticket, err := room.Join(ctx, "tour-paris", "alice", "")
	if err != nil {
		panic(err)
	}
	fmt.Println(ticket.State, ticket.Position, ticket.Created)

	done := make(chan struct{})
	go func() { _ = room.Run(ctx); close(done) }()
	statuses, err := room.Watch(ctx, "tour-paris", ticket.Token)
	if err != nil {
		panic(err)
	}
	var last waitroom.Status
	for st := range statuses {
		if st.State != last.State {
			fmt.Println(st.State)
		}
		last = st
	}
	fan, err := room.VerifyAccess("tour-paris", last.AccessToken)
	fmt.Println(fan, err)
	cancel()
	<-done
	// Output:
	// waiting 1 true
	// waiting
	// admitted
	// alice <nil>
}
