// Package inventorytest is the conformance suite every inventory.Store adapter passes: the same cases, run
// against the embedded store and against Redis, pin the semantics both must share.
//
// Run covers each Store method and error; RunConcurrency hammers one event from many goroutines and then checks
// the invariants. Cases run in parallel, each on its own event (and, through newStore, its own store), so a shared
// Redis serves them all. The suite runs in real time and never relies on an adapter's fake clock: where expiry is
// the subject it uses holds of ~100 ms and polls with a deadline.
package inventorytest
