package waitroom

import (
	"encoding/hex"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/onsale/onsale/internal/testenv"
)

// TestDrawKnownAnswer pins the draw, so a change of the algorithm (which would break re-checks of published
// draws) cannot go unnoticed.
func TestDrawKnownAnswer(t *testing.T) {
	t.Parallel()
	got := Draw([]byte("onsale"), "", 10)
	want := []int32{1, 4, 8, 6, 10, 7, 9, 5, 3, 2} // also what the documented algorithm gives in Python
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Draw = %v, want %v", got, want)
		}
	}
}

func BenchmarkDrawMillion(b *testing.B) {
	seed := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		Draw(seed, "", 1_000_000)
	}
}

// TestDrawMatchesReference recomputes a draw with the independent Python implementation in testdata, which is
// what a fan or an auditor would run on the published seed.
func TestDrawMatchesReference(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		if testenv.Required() {
			t.Fatal("python3 is not installed: the draw cannot be checked against its reference")
		}
		t.Skip("python3 is not installed")
	}
	seed := []byte("0123456789abcdef0123456789abcdef")
	out, err := exec.Command(py, "testdata/draw.py", hex.EncodeToString(seed), "presale", "200").Output()
	if err != nil {
		t.Fatal(err)
	}
	got := Draw(seed, "presale", 200)
	lines := strings.Fields(string(out))
	if len(lines) != len(got) {
		t.Fatalf("reference printed %d positions, want %d", len(lines), len(got))
	}
	for i, l := range lines {
		if n, err := strconv.Atoi(l); err != nil || int32(n) != got[i] {
			t.Fatalf("join %d: reference %s, Draw %d", i+1, l, got[i])
		}
	}
}
