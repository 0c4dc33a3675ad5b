// Package redisstore keeps the inventory in Redis: every change is one Lua script (inventory/lua) that reads the
// time once, checks every precondition before its first write and keeps available + held + sold + withheld =
// capacity, so each inventory.Store call is atomic on the server.
//
// Key layout, one hash tag per event so an event lives in one Redis Cluster slot:
//
//	<prefix>:{ev:<event>}:def            the event definition (JSON)
//	<prefix>:{ev:<event>}:meta           hash {ttl, maxlife, cotl, maxfan, cur, secs}
//	<prefix>:{ev:<event>}:sec:<section>  hash {kind, cap, avail, held, sold, wh, ver, price, rows}
//	<prefix>:{ev:<event>}:seats:<sec>    seated sections: one byte per seat in row order (0 free, h, s, w)
//	<prefix>:{ev:<event>}:hold:<id>      hash {fan, st, lines, seats, total, cur, ca, ex, ml, units, alloc}
//	<prefix>:{ev:<event>}:deadline       zset hold id → deadline ms, the truth for expiry (live holds only)
//	<prefix>:{ev:<event>}:confirmed      set of confirmed hold ids (with the deadline zset, what Audit reads)
//	<prefix>:{ev:<event>}:fan:<fan>      hash {held, bought}
//	<prefix>:{ev:<event>}:idem:<n>:<fan>:<key>  hold id and request fingerprint, 24 h
//	<prefix>:{ev:<event>}:waves          set of applied release waves
//	<prefix>:events                      set of event ids (written after the event's own keys)
//
// Holds are gathered by a batcher into pipelines of EVALSHAs, one round trip per batch (Options.MaxBatch,
// Options.BatchWindow). The store works with any redis.UniversalClient, a ClusterClient included.
package redisstore
