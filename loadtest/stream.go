package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// streamer follows the waiting room's server-sent events for the share of fans that use them. Each open stream
// is a goroutine blocked on a read, so their number is capped; a fan finding no free slot polls instead. Streams
// go through net/http because they must end when the run does, which a context cancels cleanly.
type streamer struct {
	ctx   context.Context
	hc    *http.Client
	slots chan struct{}
	wg    sync.WaitGroup
}

func newStreamer(ctx context.Context, max int) *streamer {
	return &streamer{
		ctx: ctx,
		// A stream is left before its end once the fan is admitted, so its connection is never reused.
		hc:    &http.Client{Transport: &http.Transport{DisableKeepAlives: true, ResponseHeaderTimeout: 30 * time.Second}},
		slots: make(chan struct{}, max),
	}
}

// wait returns once every stream has ended.
func (s *streamer) wait() {
	s.wg.Wait()
	s.hc.CloseIdleConnections()
}

// openStream hands the fan to a stream reader, or back to polling when every slot is taken.
func (r *runner) openStream(f *fan) {
	f.sse = false // one stream per fan; after it ends the fan polls
	select {
	case r.streams.slots <- struct{}{}:
	default:
		f.next = stepPoll
		r.sched.after(0, f)
		return
	}
	r.streams.wg.Go(func() {
		defer func() { <-r.streams.slots }()
		st, ok := r.follow(f)
		if r.stopping() {
			return
		}
		if ok {
			r.afterStatus(f, st, 0)
			return
		}
		f.next = stepPoll
		r.sched.after(0, f)
	})
}

// follow reads a fan's status stream until a status that ends the wait (admitted with its access token, sold-out
// or closed); ok is false when the stream ended or failed first.
func (r *runner) follow(f *fan) (queueStatus, bool) {
	u := r.c.base + r.eventPath("/queue/stream") + "?token=" + url.QueryEscape(f.queueToken)
	req, err := http.NewRequestWithContext(r.streams.ctx, http.MethodGet, u, nil)
	if err != nil {
		return queueStatus{}, false
	}
	req.Header.Set("Accept", "text/event-stream")
	start := time.Now()
	resp, err := r.streams.hc.Do(req)
	if err != nil {
		if r.streams.ctx.Err() == nil {
			r.rec.record(EpStream, time.Since(start), 0, ProblemConnection)
		}
		return queueStatus{}, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body := make([]byte, 4096)
		n, _ := resp.Body.Read(body)
		r.rec.record(EpStream, time.Since(start), resp.StatusCode,
			problemType(resp.StatusCode, []byte(resp.Header.Get("Content-Type")), body[:n]))
		return queueStatus{}, false
	}
	r.rec.record(EpStream, time.Since(start), resp.StatusCode, "")
	return readEvents(resp.Body, func(data []byte) (queueStatus, bool) {
		var st queueStatus
		if json.Unmarshal(data, &st) != nil {
			return st, false
		}
		switch st.State {
		case "admitted":
			return st, st.AccessToken != ""
		case "sold-out", "closed":
			return st, true
		}
		return st, false
	})
}

// readEvents parses a text/event-stream and calls done with each event's data until done says stop.
func readEvents(body interface{ Read([]byte) (int, error) }, done func(data []byte) (queueStatus, bool)) (queueStatus, bool) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	var data bytes.Buffer
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data.Len() > 0 {
				if st, ok := done(data.Bytes()); ok {
					return st, true
				}
				data.Reset()
			}
		case strings.HasPrefix(line, "data:"):
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	if data.Len() > 0 {
		return done(data.Bytes())
	}
	return queueStatus{}, false
}
