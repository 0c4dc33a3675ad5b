package tickets_test

import (
	"testing"

	"github.com/onsale/onsale/tickets"
)

func BenchmarkSign(b *testing.B) {
	k := setup(b).paris
	c := sample()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tickets.Sign(k, c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	bn := setup(b)
	code := sign(b, bn.paris, sample())
	keys := bn.keysOf("tour-paris")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tickets.Verify(code, keys); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	bn := setup(b)
	code := sign(b, bn.paris, sample())
	b.ReportAllocs()
	for b.Loop() {
		if _, v := tickets.Check(code, "tour-paris", bn.keysOf); v != tickets.VerdictValid {
			b.Fatal(v)
		}
	}
}

// BenchmarkVerifyForged is the cost of a code that fails the signature, a flood of forgeries at the scanners.
func BenchmarkVerifyForged(b *testing.B) {
	bn := setup(b)
	code := []byte(sign(b, bn.paris, sample()))
	code[len(code)-5] ^= 1
	keys := bn.keysOf("tour-paris")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tickets.Verify(string(code), keys); err == nil {
			b.Fatal("verified")
		}
	}
}

func BenchmarkOrderTokenVerify(b *testing.B) {
	o := newOrderTokens(b, orderSecret)
	tok := o.Issue("ord_mfrgg2lbmvzgk3tsmfzgk3tsmf")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := o.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
