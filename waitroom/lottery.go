package waitroom

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"math/bits"
)

// Draw computes the pre-queue lottery of one lane: it returns order with order[j-1] = the queue position (1..n) of
// the fan who joined the lane's pre-queue j-th. It is a pure function of the seed (published in Stats.LotterySeed
// after open, hex), the lane's name ("" for the general lane, else the presale wave's id) and the lane's pre-queue
// size n (Stats.PrequeueSizes), so anyone can recompute the draw:
//
//	order = [1, 2, …, n]
//	for i = n-1 down to 1:                       // Fisher–Yates
//	    j = uniform(0..i) from the stream
//	    swap order[i], order[j]
//
// The stream is the concatenation of blocks HMAC-SHA256(key=seed, "onsale-lottery\x00" ‖ lane ‖ "\x00" ‖
// uint64be(k)) for k = 0, 1, …; it is read 8 bytes at a time as big-endian uint64 x; uniform(0..i) rejects
// x ≥ 2^64 − (2^64 mod (i+1)) and otherwise returns x mod (i+1), so the draw has no modulo bias.
// testdata/draw.py is an independent implementation of these lines, for anyone re-checking a published draw.
func Draw(seed []byte, lane string, n int) []int32 {
	if n <= 0 {
		return nil
	}
	order := make([]int32, n)
	for i := range order {
		order[i] = int32(i + 1)
	}
	s := newDrawStream(seed, lane)
	for i := n - 1; i >= 1; i-- {
		j := s.uniform(uint64(i) + 1)
		order[i], order[j] = order[j], order[i]
	}
	return order
}

type drawStream struct {
	mac    hash.Hash
	prefix []byte
	k      uint64
	block  [32]byte
	kbuf   [8]byte
	off    int
}

func newDrawStream(seed []byte, lane string) *drawStream {
	p := append([]byte("onsale-lottery\x00"), lane...)
	p = append(p, 0)
	return &drawStream{mac: hmac.New(sha256.New, seed), prefix: p, off: 32}
}

func (s *drawStream) next() uint64 {
	if s.off == 32 {
		s.mac.Reset()
		s.mac.Write(s.prefix)
		binary.BigEndian.PutUint64(s.kbuf[:], s.k)
		s.mac.Write(s.kbuf[:])
		s.mac.Sum(s.block[:0])
		s.k++
		s.off = 0
	}
	v := binary.BigEndian.Uint64(s.block[s.off:])
	s.off += 8
	return v
}

// uniform returns a uniform integer in [0, bound).
func (s *drawStream) uniform(bound uint64) uint64 {
	// 2^64 mod bound, computed without overflow.
	_, rem := bits.Div64(1, 0, bound)
	limit := -rem // 2^64 − rem, as uint64 wraps; rem == 0 means no rejection
	for {
		x := s.next()
		if rem == 0 || x < limit {
			return x % bound
		}
	}
}
