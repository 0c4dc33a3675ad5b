package core

import (
	"embed"
	"io/fs"

	"github.com/valyala/fasthttp"
)

// The pages are embedded, so the binary serves them with nothing beside it. web/event.html is the waiting-room
// page, web/admin.html the organizer console, web/docs.html the API reference, which reads
// openapi.yaml.
//
//go:embed web
var webFS embed.FS

//go:embed openapi.yaml
var openAPIDoc []byte

// page answers with an embedded file, or 404 when the build does not have it.
func page(ctx *fasthttp.RequestCtx, name, contentType string) error {
	b, err := fs.ReadFile(webFS, name)
	if err != nil {
		return errNotFoundRoute
	}
	servePage(ctx, b, contentType)
	return nil
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
	if err := page(ctx, "web/event.html", htmlType); err == nil {
		return nil
	}
	return page(ctx, "web/placeholder.html", htmlType)
}

// adminPage: GET /admin.
func (s *Server) adminPage(ctx *fasthttp.RequestCtx, _ string) error {
	return page(ctx, "web/admin.html", htmlType)
}

// docsPage: GET /docs.
func (s *Server) docsPage(ctx *fasthttp.RequestCtx, _ string) error {
	return page(ctx, "web/docs.html", htmlType)
}

// openAPI: GET /openapi.yaml.
func (s *Server) openAPI(ctx *fasthttp.RequestCtx, _ string) error {
	servePage(ctx, openAPIDoc, "application/yaml")
	return nil
}
