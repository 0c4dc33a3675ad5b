// Package inventory is the sellable stock of an event: sections of general admission (a capacity) or seated rows,
// holds that take units out of sale for a while, and the counters that prove nothing is sold twice.
//
// The rule of the domain lives here: the types, the sentinel errors and the Store that adapters implement.
// Two adapters implement Store with the same semantics and pass one conformance suite (inventorytest):
// redisstore (atomic Lua scripts, one hash tag per event, so an event is one Redis Cluster slot) and memstore (the
// embedded default, one process, no services).
//
// Invariants every Store keeps, per section, after every call:
//
//	capacity = available + held + sold + withheld
//	no seat is in two live holds, no seat is sold twice, sold ≤ capacity
//	a fan's live held units + bought units ≤ the event's max_per_fan
//	a hold leaves the held state exactly once (released, expired or confirmed); a confirmed one may later be
//	returned once, which releases it; a released or expired hold never changes again
//	a cancelled event takes no new hold, and stays cancelled
//
// The rules both adapters share live here as plain Go, so they are written once: Event.Validate (limits and
// defaults of an event definition), HoldRequest.Validate and Event.CheckHold (what makes a request invalid),
// NewHoldID and EventOfHold (a hold id carries its event, so the Redis adapter can route it), SeatID and
// ParseSeatID, and SelectSeats, the best-available rule: the first placement in row order that leaves no lone single
// seat, else the first placement at all, else (unless adjacent seats are required) the first free seats.
//
// A hold's lines come one per section in order of first appearance, named seats before items; its seats are the
// named seats in request order, then each item's best-available seats in seat order.
package inventory
