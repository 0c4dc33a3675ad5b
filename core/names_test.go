package core

import (
	"fmt"
	"testing"
)

func TestNames(t *testing.T) { // not parallel: it counts allocations
	var n names
	if got := n.get([]byte("ev")); got != "ev" {
		t.Fatalf("empty table: %q", got)
	}
	n.add("ev")
	n.add("ev")
	if got := n.get([]byte("ev")); got != "ev" || len(*n.m.Load()) != 1 {
		t.Fatalf("after add: %q, %d names", got, len(*n.m.Load()))
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = n.get([]byte("ev")) }); allocs != 0 {
		t.Fatalf("an interned lookup allocates %v times", allocs)
	}
	for i := range maxNames + 10 {
		n.add(fmt.Sprint("id-", i))
	}
	if size := len(*n.m.Load()); size != maxNames {
		t.Fatalf("%d names kept, want the bound %d", size, maxNames)
	}
	if got := n.get([]byte("not-kept")); got != "not-kept" {
		t.Fatalf("past the bound: %q", got)
	}
	var none *names
	if got := none.get([]byte("x")); got != "x" {
		t.Fatalf("nil table: %q", got)
	}
}
