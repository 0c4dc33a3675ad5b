package validate

import (
	"os"
	"strings"
	"testing"
)

func dockerfile(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../docker/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestRepositoryDockerfile(t *testing.T) {
	t.Parallel()
	ins, err := ParseDockerfile(strings.NewReader(dockerfile(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckDockerfile(ins); err != nil {
		t.Fatal(err)
	}
}

func TestDockerfileMistakesAreCaught(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, old, new, want string }{
		{"root user", "USER 65532:65532", "USER 0", "numeric non-root uid"},
		{"named user", "USER 65532:65532", "USER nonroot", "numeric non-root uid"},
		{"no user", "USER 65532:65532", "", "numeric non-root uid"},
		{"cgo left on", "ENV CGO_ENABLED=0 ", "ENV ", "CGO_ENABLED=0"},
		{"floating base", "FROM golang:1.26 AS build", "FROM golang AS build", "needs a fixed tag"},
		{"latest base", "FROM golang:1.26 AS build", "FROM golang:latest AS build", "needs a fixed tag"},
		{"untrimmed", "go build -trimpath", "go build", "-trimpath"},
		{"symbols kept", `-ldflags="-s -w -X`, `-ldflags="-X`, "-s -w"},
		{"fat final image", "FROM gcr.io/distroless/static-debian12:nonroot", "FROM debian:12", "neither distroless static nor scratch"},
		{"copy from nowhere", "COPY --from=build", "COPY --from=builder", "names no earlier stage"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := dockerfile(t)
			if !strings.Contains(src, tc.old) {
				t.Fatalf("Dockerfile lacks %q", tc.old)
			}
			ins, err := ParseDockerfile(strings.NewReader(strings.Replace(src, tc.old, tc.new, 1)))
			if err == nil {
				err = CheckDockerfile(ins)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v does not say %q", err, tc.want)
			}
		})
	}
}
