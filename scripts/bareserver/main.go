// Command bareserver answers "ok" to every request with fasthttp: the HTTP ceiling that scripts/bench.sh measures
// onsale's endpoints against, on the same machine in the same run.
package main

import (
	"flag"
	"log"

	"github.com/valyala/fasthttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18181", "listen address")
	flag.Parse()
	ok := []byte("ok")
	h := func(ctx *fasthttp.RequestCtx) { ctx.SetBody(ok) }
	if err := fasthttp.ListenAndServe(*addr, h); err != nil {
		log.Fatal(err)
	}
}
