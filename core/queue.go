package core

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/onsale/onsale/waitroom"
)

// The waiting-room endpoints. A status poll is the most frequent request of an on-sale: it is answered from the
// signed queue token and the room's in-process serving counter, with the JSON appended by hand.

const headerQueueToken = "Queue-Token"

// retryAfterKey is already canonical, so setting it on every poll skips the header-name normalization.
var retryAfterKey = []byte(fasthttp.HeaderRetryAfter)

var errNoQueueToken = problemf(401, typeUnauthorized, "the Queue-Token header is required")

// join: POST /v1/events/{event}/queue.
func (s *Server) join(ctx *fasthttp.RequestCtx, event string) error {
	if ok, wait := s.joins.allow(clientAddr(ctx, s.cfg.TrustedProxies), s.now()); !ok {
		p := problemf(429, typeRateLimited, "too many joins from this address; try again shortly")
		p.retryAfter = ceilSeconds(wait)
		return p
	}
	var body joinBody
	if err := decodeJSON(ctx.PostBody(), &body, true); err != nil {
		return err
	}
	fan, identified, err := s.auth.fan(ctx)
	if err != nil {
		return err
	}
	if !identified {
		fan = body.Fan
		if fan == "" {
			return badRequest(`"fan" is required`)
		}
		if len(fan) > maxFanLen {
			return badRequest(fmt.Sprintf(`"fan" is longer than %d bytes`, maxFanLen))
		}
	}
	if len(body.Code) > maxFanLen {
		return badRequest(fmt.Sprintf(`"code" is longer than %d bytes`, maxFanLen))
	}
	t, err := s.room.Join(context.Background(), event, fan, body.Code)
	if err != nil {
		return fmt.Errorf("join %s: %w", event, err)
	}
	if t.State == waitroom.Closed && t.Token == "" {
		return problemf(409, typeConflict, "the event is cancelled: its queue is closed")
	}
	status := fasthttp.StatusOK
	if t.Created {
		status = fasthttp.StatusCreated
	}
	buf := getBuf()
	b := append(buf.b[:0], `{"queue_token":`...)
	b = appendJSONString(b, t.Token)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, string(t.State))
	b = append(b, `,"position":`...)
	b = appendInt(b, t.Position)
	b = append(b, `,"poll_after_ms":`...)
	b = appendInt(b, t.PollAfter.Milliseconds())
	b = append(b, '}')
	writeRaw(ctx, status, b)
	putBuf(buf, b)
	return nil
}

// queueStatus: GET /v1/events/{event}/queue with Queue-Token.
func (s *Server) queueStatus(ctx *fasthttp.RequestCtx, event string) error {
	tok := ctx.Request.Header.Peek(headerQueueToken)
	if len(tok) == 0 {
		return errNoQueueToken
	}
	st, err := s.room.StatusBytes(context.Background(), event, tok)
	if err != nil {
		return err
	}
	if st.State == waitroom.Waiting || st.State == waitroom.Prequeue {
		var nb [20]byte
		ctx.Response.Header.SetCanonical(retryAfterKey, strconv.AppendInt(nb[:0], int64(ceilSeconds(st.PollAfter)), 10))
	}
	buf := getBuf()
	b := appendStatus(buf.b[:0], &st)
	writeRaw(ctx, fasthttp.StatusOK, b)
	putBuf(buf, b)
	return nil
}

func appendStatus(b []byte, st *waitroom.Status) []byte {
	switch st.State { // the frequent states with their JSON ready
	case waitroom.Waiting:
		b = append(b, `{"state":"waiting","position":`...)
	case waitroom.Prequeue:
		b = append(b, `{"state":"prequeue","position":`...)
	default:
		b = append(b, `{"state":`...)
		b = appendJSONString(b, string(st.State))
		b = append(b, `,"position":`...)
	}
	b = appendInt(b, st.Position)
	b = append(b, `,"ahead":`...)
	b = appendInt(b, st.Ahead)
	b = append(b, `,"estimated_wait_s":`...)
	b = appendInt(b, int64(ceilSeconds(st.EstimatedWait)))
	b = append(b, `,"poll_after_ms":`...)
	b = appendInt(b, st.PollAfter.Milliseconds())
	if st.QueueToken != "" { // a replacement the client stores in place of its old token
		b = append(b, `,"queue_token":`...)
		b = appendJSONString(b, st.QueueToken)
	}
	if st.Remaining >= 0 && st.State == waitroom.Waiting {
		b = append(b, `,"remaining":`...)
		b = appendInt(b, st.Remaining)
		if st.RemainingHeld {
			b = append(b, `,"remaining_held":true`...)
		}
	}
	if st.Lane != "" {
		b = append(b, `,"lane":`...)
		b = appendJSONString(b, st.Lane)
	}
	if st.AccessToken != "" {
		b = append(b, `,"access_token":`...)
		b = appendJSONString(b, st.AccessToken)
		b = append(b, `,"access_expires_at":`...)
		b = appendTime(b, st.AccessExpiresAt)
	}
	return append(b, '}')
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

// streamKeepAlive is how often an idle event stream gets a comment line, so proxies keep it open and a gone
// client is noticed.
const streamKeepAlive = 15 * time.Second

// queueStream: GET /v1/events/{event}/queue/stream?token=… as server-sent events.
func (s *Server) queueStream(ctx *fasthttp.RequestCtx, event string) error {
	tok := ctx.QueryArgs().Peek("token")
	if len(tok) == 0 {
		tok = ctx.Request.Header.Peek(headerQueueToken)
	}
	if len(tok) == 0 {
		return problemf(401, typeUnauthorized, "the token query parameter is required")
	}
	wctx, cancel := context.WithTimeout(s.base, s.cfg.StreamMaxAge)
	ch, err := s.room.Watch(wctx, event, string(tok))
	if err != nil {
		cancel()
		return err
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no")
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer cancel()
		keep := time.NewTicker(streamKeepAlive)
		defer keep.Stop()
		b := make([]byte, 0, 512)
		for {
			select {
			case st, ok := <-ch:
				if !ok {
					return
				}
				b = append(b[:0], "event: status\ndata: "...)
				b = appendStatus(b, &st)
				b = append(b, "\n\n"...)
				if _, err := w.Write(b); err != nil {
					return
				}
			case <-keep.C:
				if _, err := w.WriteString(": keep-alive\n\n"); err != nil {
					return
				}
			}
			if err := w.Flush(); err != nil {
				return
			}
		}
	})
	return nil
}

// leave: DELETE /v1/events/{event}/queue with Queue-Token.
func (s *Server) leave(ctx *fasthttp.RequestCtx, event string) error {
	tok := ctx.Request.Header.Peek(headerQueueToken)
	if len(tok) == 0 {
		return errNoQueueToken
	}
	if err := s.room.Leave(context.Background(), event, string(tok)); err != nil {
		return err
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
	return nil
}
