package core

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"
)

// Responses on the hot paths (hold, queue status) are appended by hand into pooled buffers: no reflection and no
// allocation per request. Everything else goes through encoding/json.

type scratch struct{ b []byte }

var bufPool = sync.Pool{New: func() any { return &scratch{b: make([]byte, 0, 1024)} }}

func getBuf() *scratch { return bufPool.Get().(*scratch) }

// putBuf returns the buffer, keeping the grown slice b unless it became too big to keep around.
func putBuf(s *scratch, b []byte) {
	if cap(b) > 64<<10 {
		b = nil
	}
	s.b = b[:0]
	bufPool.Put(s)
}

// writeJSON answers with v encoded by encoding/json.
func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
	return nil
}

// writeRaw answers with a body appended into b.
func writeRaw(ctx *fasthttp.RequestCtx, status int, b []byte) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaping what JSON requires and replacing invalid UTF-8.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }

// money is an amount in minor units of a currency.
type money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

func appendMoney(b []byte, amount int64, currency string) []byte {
	b = append(b, `{"amount":`...)
	b = appendInt(b, amount)
	b = append(b, `,"currency":`...)
	b = appendJSONString(b, currency)
	return append(b, '}')
}
