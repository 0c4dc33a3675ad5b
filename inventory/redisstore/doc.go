// Package redisstore keeps the inventory in Redis: every change is one Lua script (inventory/lua) that reads the
// time once, checks every precondition before its first write and keeps available + held + sold + withheld =
// capacity, so each inventory.Store call is atomic on the server.
//
// Key layout, one hash tag per event so an event lives in one Redis Cluster slot:
//
//	<prefix>:{ev:<event>}:def            the event definition (JSON)
//	<prefix>:{ev:<event>}:meta           hash {ttl, maxlife, cotl, maxfan, cur, secs, due, closed}; due (ms) is
//	                                     never later than the earliest deadline, so a hold call skips its lazy
//	                                     reclaim until then (absent: unknown, reclaim); a script that adds a
//	                                     deadline lowers it; closed ("1") is set by Cancel, for good
//	<prefix>:{ev:<event>}:sec:<section>  hash {kind, cap, avail, held, sold, wh, ver, price, rows}
//	<prefix>:{ev:<event>}:seats:<sec>    seated sections: one byte per seat in row order (0 free, h, s, w)
//	<prefix>:{ev:<event>}:hold:<id>      "<state>\n<deadline ms>\n<created ms>\n<lines>\n<seats>\n<alloc>\n<fan>"
//	                                     (units, total, currency and life cap derive from it and the meta);
//	                                     released and expired holds expire after 25 h, sold and returned ones never
//	<prefix>:{ev:<event>}:deadline       zset hold id → deadline ms, the truth for expiry (live holds only)
//	<prefix>:{ev:<event>}:confirmed      set of confirmed hold ids (with the deadline zset, what Audit reads)
//	<prefix>:{ev:<event>}:fan:<fan>      integer: the fan's units live and bought (what the limit counts)
//	<prefix>:{ev:<event>}:bought:<fan>   integer: the fan's units bought
//	<prefix>:{ev:<event>}:idem:<n>:<fan>:<key>  hold id and request fingerprint, 24 h
//	<prefix>:{ev:<event>}:waves          set of applied release waves
//	<prefix>:events                      set of event ids (written after the event's own keys)
//
// Concurrent holds are gathered by a batcher (Options.MaxBatch, Options.BatchWindow) and sent in one round trip:
// the holds of one event go in one call of the hold script, which serves them in order, each all or nothing, as if
// each were its own call; the calls for several events are pipelined. An idle store sends a hold at once.
// A server that lost the scripts (SCRIPT FLUSH, a restart, a failover) answers NOSCRIPT; the store resends with the
// script's source (EVAL, which caches it again), which is safe because a refused call did nothing.
//
// The store works with any redis.UniversalClient, a ClusterClient included: every key a script touches carries the
// event's hash tag, so every call stays in one slot.
package redisstore
