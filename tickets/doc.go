// Package tickets signs and verifies the codes of paid tickets, keeps the events' signing keys sealed, and issues
// the tokens that open an order.
//
// # Ticket codes
//
// A ticket's code is what its QR code holds: a compact JWS (RFC 7515) signed with EdDSA over Ed25519 (RFC 8037),
// with the signing key's kid in its header and Claims as its payload (tid, ev, and sec, seat and iat when set).
// Anyone holding the event's public keys, published as a JWKS, verifies a code offline. Only the exact text that
// was signed verifies: Verify refuses line breaks, padding and stray bits the JOSE decoder would skip, and Ed25519
// signatures have a single valid encoding, so one ticket has one code.
//
// # Sign at read
//
// Ed25519 signatures are deterministic and the header and claims are encoded the same way every time, so signing
// a ticket again gives the same code. Codes are therefore not stored: whoever shows a ticket signs it then, and a
// code shown twice or on two devices is the same code.
//
// # Keys and rotation
//
// Each event has its own keys, created with the event. The current key (Current: the newest one with a private
// key) signs new codes; every key not retired stays in the event's set and keeps verifying the codes it signed,
// each found by its kid. Rotating is adding a key; retiring one is removing it from the set, after which its
// codes are invalid (and re-signed at the next read with the current key). A kid is a prefix of the key's RFC 7638
// thumbprint, so it names one key across all events.
//
// # Sealed private keys
//
// The ledger stores each private key sealed with AES-256-GCM under a master key from configuration, with the
// event and kid as additional data. A copy of the ledger alone cannot sign a ticket, and a sealed key moved onto
// another event's or key's row does not open.
//
// # Order tokens
//
// An order token is a long-lived credential for one order: an HMAC-SHA256 tag over the order id, versioned, with no
// expiry, since it opens the order for as long as the order exists.
package tickets
