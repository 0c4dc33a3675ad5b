package validate

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckStatic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nimport \"net\"\n\nfunc main() { _, _ = net.LookupHost(\"localhost\") }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "bin")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false", "GO111MODULE=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	if err := CheckStatic(out); err != nil {
		t.Fatalf("CGO_ENABLED=0 build: %v", err)
	}
	// A distribution's own tools link libc dynamically: exactly what the distroless image cannot run.
	if err := CheckStatic("/bin/ls"); err == nil || !strings.Contains(err.Error(), "dynamic loader") {
		t.Fatalf("/bin/ls accepted as static: %v", err)
	}
	if err := CheckStatic(src); err == nil {
		t.Fatal("a source file accepted as a binary")
	}
}
