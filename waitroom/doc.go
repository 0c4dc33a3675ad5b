// Package waitroom turns a spike of fans into a steady, fair flow: a queue per event, signed tokens that carry a
// fan's place, and an admission controller that lets fans in at the organizer's rate.
//
// # Places and positions
//
// Each lane of an event has a join counter: a fan's join number (seq) is the counter's value when the fan first
// joined, and one identity holds one place per event: joining again (refresh, new tab, another device) returns the
// same place (Ticket.Created false), in the lane of the first join. Leave frees the place: it becomes a hole the
// controller skips, and a later join gets a new place at the back.
//
// # Pre-queue and lottery
//
// Fans who join before the first wave's starts_at are in the pre-queue. The first join after open (or the
// controller, whichever comes first) freezes each lane's pre-queue size n; the controller then generates a
// 32-byte seed with crypto/rand, and the lane's first n positions are the Draw of that seed: join number j gets
// position Draw(seed, lane, n)[j-1]. Fans who join after the freeze get position = seq, behind the drawn pre-queue,
// first come first served. The seed is published by Stats (LotterySeed, hex) with the sizes (PrequeueSizes), so
// anyone can recompute the draw; it did not exist before open, so nobody could have predicted it.
//
// A pre-queue token carries the join number but no position. Once the seed is known, Status resolves it to the
// drawn position and answers with a fresh queue token (Status.QueueToken) carrying it; the old token keeps
// resolving to the same place, so a client that ignores the new token loses nothing.
//
// # Lanes and waves
//
// Waves are ordered by starts_at; the current wave is the last one started. A wave with presale codes has a code
// lane of its own (own counter, own serving position): a fan who joins with one of its codes (case-insensitive)
// joins that lane; an unknown code is ErrBadCode, and so is joining without a code when no wave admits the general
// lane. The controller's budget per tick is the current wave's admit_per_min, shared by the lanes it admits from,
// highest priority first: the code lanes of every wave that has started, earlier presales first, then the general
// lane when the current wave has no codes. So during a presale only code holders advance; in a general wave, code
// holders not admitted yet keep their priority and take from the budget first, and the general lane gets the rest.
// When a wave starts the controller calls Stock.ReleaseWave for it once (recorded in the store by wave id).
//
// # Admission
//
// One controller per event at a time: a lease in the store, renewed every tick, taken over by another process when
// it lapses (Options.LeaseTTL); the store refuses admissions from a process that lost the lease. Each tick adds
// rate×elapsed to a carry and admits the whole part, bounded by max_active − active and by available − active
// (every active shopper can buy at least one unit); the fraction carries to the next tick, unused whole admissions
// do not. Paused stops admissions; live changes of rate and max active apply from the next tick until the next
// wave. When available + held reaches 0 in the last wave, the controller closes the queue: fans not admitted see
// sold-out, and Stats.Queued (like the queued gauge) counts 0 from then on, since no waiting fan can be served.
//
// # Cancellation
//
// Close closes an event's queue for good when the event is cancelled: from then on the store gives no place, claims
// no access and admits nobody, and neither a sold-out close nor a new configuration reopens it. Every fan, in the
// pre-queue, waiting or admitted, is answered closed with PollAfter 0 (at once by the process that closed, by the
// others from their next refresh), streams end, and VerifyAccess refuses the event's access tokens with ErrClosed
// (VerifyAccessForRead still passes them: fans read their orders while the refunds go out). It reads the closure from a set of closed events each process keeps from its snapshots
// (copied on write), so the hold path still makes no store call.
//
// # Active fans
//
// An admitted place counts as active until its fan claims access (ArrivalTTL, so no-shows never stall the queue).
// From the claim it counts until IdleTTL (default ArrivalTTL) after the fan's last call, or less when the fan is
// done sooner. A call is a status poll once admitted or a check of the access token (every hold, checkout or
// read); a process writes it to the store (Store.Touch) at most every IdleTTL/4 per fan, so polls stay free of
// store calls and a fan who calls at least every 3/4 of IdleTTL keeps its slot, while one who goes quiet frees it
// IdleTTL after its last call at the latest. A slot that stopped counting is never counted again. Core calls
// Finished when
//
//   - an order of the fan reaches a final state (paid, failed or refunded; booking events carry the fan);
//   - the fan releases a hold (DELETE);
//   - a hold request of the fan is answered sold-out while the event has nothing available at all.
//
// The access token itself stays valid until AccessTTL (VerifyAccess reads only the token, unless the event is
// closed), so a freed fan can still hold, pay or read: being freed only lets someone else in. Counting a fan who
// still shops for at most IdleTTL is safe for the stock: the units a fan holds are already out of "available",
// which bounds admission, so a freed fan with a live hold cannot make an admitted fan unable to buy; it only lets
// the number of shoppers exceed max active for the rest of that fan's visit. (The store cannot cheaply tell whether
// a fan holds anything, so IdleTTL runs from the last call, live hold or not.) Without these rules a fan who
// declined, released, let a hold expire or was told sold-out kept a slot for the whole access, and the last units
// stayed unsold while the queue waited.
//
// # Polls
//
// Status answers from the signed token and a snapshot of the event's counters that Run refreshes every Refresh
// (100–250 ms): no store call per poll. The one poll that first finds the fan admitted claims the access in the
// store (once per fan and process) and mints the access token. PollAfter grows with the estimated wait (1 s near
// the front, 30 s far back), and the estimated wait uses the measured admission rate (a moving average over ticks
// with a one-minute time constant, bias-corrected at start), not the configured one; only before anything was
// admitted does it fall back to the configured rate. Watch serves streams from one goroutine per event.
//
// Because polls do not read the store, only the process that served a Leave knows of it at once: it remembers
// the place (until the queue token would have expired) and answers "closed" for it right away, to polls and
// streams. Another process keeps answering "waiting" for that token until the serving counter reaches its place;
// then the claim finds the place gone and the answer is "closed" there too: a left place is never admitted.
//
// # Tokens
//
// Queue and access tokens are base64url(payload ‖ HMAC-SHA256 tag truncated to 128 bits), bound to the event and
// the fan, with an expiry (see token.go). Any altered byte, truncation, other event, other kind or expiry is refused
// (ErrBadToken for queue tokens, ErrNotAdmitted for access tokens); the tag is compared in constant time.
// VerifyAccessForRead is the one exception to expiry: for read-only calls (a fan's hold or order) it accepts an
// authentic access token of the event up to Options.ReadGrace (default 24 h) past its expiry, so a fan whose payment
// is still pending when the access ends can see how it ends; every call that changes state uses VerifyAccess.
//
// # Stores
//
// Store is the shared state; memstore (embedded, one process) and redisstore (Redis, one hash tag per event, Lua
// scripts where atomicity matters) implement it and pass the conformance suite in storetest. In Redis a queued fan
// costs one entry in a bucket hash (a 6-byte field and a small integer): scripts/waitroom-memory.sh measured
// 23 bytes per fan at 1,000,000 fans (target ≤ 80).
//
// # Wiring
//
//	room, err := waitroom.New(redisstore.New(client, "onsale"), stock, waitroom.Options{Secret: key})
//	go room.Run(ctx) // controllers under leases, snapshot refresh; every process runs it
//
// stock adapts the inventory (Remaining, ReleaseWave). Every replica must share Options.Secret.
package waitroom
