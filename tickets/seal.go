package tickets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// MasterKeyLen is the length of the key that seals the events' private keys (AES-256).
const MasterKeyLen = 32

// A sealed key is version(1) ‖ nonce(12) ‖ AES-256-GCM(seed) with its 16-byte tag, 61 bytes. The additional data
// names the event and the kid, so a sealed key copied onto another key's row in the ledger does not open.
const (
	sealVersion = 1
	sealedLen   = 1 + 12 + ed25519.SeedSize + 16
)

// ErrSealed is the error of a sealed key that does not open: another master key, another event or kid, or
// altered bytes.
var ErrSealed = errors.New("sealed key does not open")

// Sealer seals the events' private keys under the master key, so a copy of the ledger alone signs no ticket.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a master key of MasterKeyLen bytes.
func NewSealer(master []byte) (*Sealer, error) {
	if len(master) != MasterKeyLen {
		return nil, fmt.Errorf("ticket key: %d bytes, want %d", len(master), MasterKeyLen)
	}
	block, err := aes.NewCipher(master)
	if err != nil {
		return nil, fmt.Errorf("ticket key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("ticket key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal returns k's private key sealed for k.Event and k.ID. Only the 32-byte seed is sealed: the rest of an
// Ed25519 private key is derived from it.
func (s *Sealer) Seal(k Key) ([]byte, error) {
	if !k.canSign() || k.ID == "" || k.Event == "" {
		return nil, fmt.Errorf("seal key %q of %q: not a complete key pair", k.ID, k.Event)
	}
	out := make([]byte, 1+s.aead.NonceSize(), sealedLen)
	out[0] = sealVersion
	_, _ = rand.Read(out[1:]) // crypto/rand.Read never fails on supported platforms
	return s.aead.Seal(out, out[1:], k.Private.Seed(), additionalData(k.Event, k.ID)), nil
}

// Open returns the private key sealed for event and kid.
func (s *Sealer) Open(event, kid string, sealed []byte) (ed25519.PrivateKey, error) {
	n := 1 + s.aead.NonceSize()
	if len(sealed) != sealedLen || sealed[0] != sealVersion {
		return nil, fmt.Errorf("open key %s of %s: %w", kid, event, ErrSealed)
	}
	seed, err := s.aead.Open(nil, sealed[1:n], sealed[n:], additionalData(event, kid))
	if err != nil {
		return nil, fmt.Errorf("open key %s of %s: %w", kid, event, ErrSealed)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// additionalData is unambiguous: the lengths keep ("ab", "c") apart from ("a", "bc").
func additionalData(event, kid string) []byte {
	b := append(make([]byte, 0, 32+len(event)+len(kid)), "onsale/tickets/key"...)
	b = append(b, sealVersion)
	b = binary.AppendUvarint(b, uint64(len(event)))
	b = append(b, event...)
	b = binary.AppendUvarint(b, uint64(len(kid)))
	return append(b, kid...)
}

// ParseMasterKey decodes a master key as configured (ONSALE_TICKET_KEY or a file): base64, standard or URL
// alphabet, padded or not, of MasterKeyLen bytes. Surrounding whitespace (a file's final newline) is ignored.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("ticket key: empty")
	}
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	key, err := enc.Strict().DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("ticket key: not base64 (%d characters): %w", len(s), err)
	}
	if len(key) != MasterKeyLen {
		return nil, fmt.Errorf("ticket key: %d bytes, want %d (%d base64 characters)", len(key), MasterKeyLen,
			base64.StdEncoding.EncodedLen(MasterKeyLen))
	}
	return key, nil
}

// GenerateMasterKey returns a fresh master key in the form ParseMasterKey reads, for development, where the caller
// logs it so the keys sealed under it can be opened after a restart.
func GenerateMasterKey() (string, error) {
	var b [MasterKeyLen]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("ticket key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b[:]), nil
}
