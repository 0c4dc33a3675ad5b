package core

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"sync"

	"github.com/valyala/fasthttp"
	"go.yaml.in/yaml/v4"
)

// The pages are embedded, so the binary serves them with nothing beside it. web/event.html is the waiting-room
// page, web/admin.html the organizer console, web/scan.html the door scanner, web/docs.html the API reference,
// which reads openapi.yaml.
//
//go:embed web
var webFS embed.FS

//go:embed openapi.yaml
var openAPIDoc []byte

// page answers with an embedded file, or 404 when the build does not have it. A browser that takes gzip gets
// the file compressed once per process: the fan's page is what a spike of phones loads at the opening.
func page(ctx *fasthttp.RequestCtx, name, contentType string) error {
	f, ok := embeddedPage(name)
	if !ok {
		return errNotFoundRoute
	}
	ctx.Response.Header.Set(fasthttp.HeaderVary, fasthttp.HeaderAcceptEncoding)
	if ctx.Request.Header.HasAcceptEncoding("gzip") {
		servePage(ctx, f.gzipped, contentType)
		ctx.Response.Header.Set(fasthttp.HeaderContentEncoding, "gzip")
		return nil
	}
	servePage(ctx, f.raw, contentType)
	return nil
}

type pageFile struct{ raw, gzipped []byte }

var pageFiles sync.Map // name → *pageFile

func embeddedPage(name string) (*pageFile, bool) {
	if f, ok := pageFiles.Load(name); ok {
		return f.(*pageFile), true
	}
	b, err := fs.ReadFile(webFS, name)
	if err != nil {
		return nil, false
	}
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression) // the level is valid
	_, _ = w.Write(b)                                     // a bytes.Buffer does not fail
	_ = w.Close()
	f := &pageFile{raw: b, gzipped: z.Bytes()}
	actual, _ := pageFiles.LoadOrStore(name, f)
	return actual.(*pageFile), true
}

func servePage(ctx *fasthttp.RequestCtx, b []byte, contentType string) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType(contentType)
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.Response.Header.Set("Referrer-Policy", "no-referrer")
	ctx.SetBody(b)
}

const htmlType = "text/html; charset=utf-8"

// eventPage: GET /e/{event}. The page reads the event id from its own URL.
func (s *Server) eventPage(ctx *fasthttp.RequestCtx, _ string) error {
	return page(ctx, "web/event.html", htmlType)
}

// adminPage: GET /admin.
func (s *Server) adminPage(ctx *fasthttp.RequestCtx, _ string) error {
	return page(ctx, "web/admin.html", htmlType)
}

// scanPage: GET /scan/{event}, the door scanner. It reads the event id from its own URL.
func (s *Server) scanPage(ctx *fasthttp.RequestCtx, _ string) error {
	return page(ctx, "web/scan.html", htmlType)
}

// assets are the vendored scripts the pages load only where the browser lacks the feature (web/assets).
var assets = map[string]string{"jsqr.js": "web/assets/jsqr.js", "ed25519.js": "web/assets/ed25519.js",
	"scan-sw.js": "web/assets/scan-sw.js"}

// asset: GET /assets/{file}.
func (s *Server) asset(ctx *fasthttp.RequestCtx, file string) error {
	name, ok := assets[file]
	if !ok {
		return errNotFoundRoute
	}
	if err := page(ctx, name, "text/javascript; charset=utf-8"); err != nil {
		return err
	}
	if file == "scan-sw.js" {
		// A service worker is checked for updates on every load, and may serve the scanner's pages.
		ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "no-cache")
		ctx.Response.Header.Set("Service-Worker-Allowed", "/scan/")
		return nil
	}
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "public, max-age=86400")
	return nil
}

// docsPage: GET /docs.
func (s *Server) docsPage(ctx *fasthttp.RequestCtx, _ string) error {
	return page(ctx, "web/docs.html", htmlType)
}

// openAPIJSON is the document as JSON (what /docs reads), converted once.
var openAPIJSON = sync.OnceValues(func() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openAPIDoc, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	return json.Marshal(jsonable(doc))
})

// jsonable turns YAML's maps with non-string keys (status codes written as numbers) into JSON objects.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = jsonable(x)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[fmt.Sprint(k)] = jsonable(x)
		}
		return m
	case []any:
		for i, x := range v {
			v[i] = jsonable(x)
		}
	}
	return v
}

// openAPIAsJSON: GET /openapi.json.
func (s *Server) openAPIAsJSON(ctx *fasthttp.RequestCtx, _ string) error {
	b, err := openAPIJSON()
	if err != nil {
		return err
	}
	servePage(ctx, b, "application/json")
	return nil
}

// openAPI: GET /openapi.yaml.
func (s *Server) openAPI(ctx *fasthttp.RequestCtx, _ string) error {
	servePage(ctx, openAPIDoc, "application/yaml")
	return nil
}
