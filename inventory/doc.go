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
//	a hold leaves the held state exactly once (released, expired or confirmed)
package inventory
