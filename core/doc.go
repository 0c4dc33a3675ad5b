// Package core is the seat-hold service: the HTTP API of the on-sale (fasthttp), fans' and organizers' auth,
// idempotency, limits, problem+json errors, metrics, the background loops that keep the inventory tidy, and the
// waiting-room page and organizer console served as embedded files.
//
// core depends on the domain packages (inventory, waitroom, settlement) through the small interfaces it declares
// here (Room, Settlement, inventory.Store); it never imports an adapter. cmd/onsale wires the adapters in.
//
// Only this package maps domain errors to HTTP status codes and problem types (see problem.go), and only it logs
// internal errors.
package core
