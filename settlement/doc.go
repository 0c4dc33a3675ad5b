// Package settlement turns a checked-out hold into a paid order, or gives its seats back, as a persisted saga:
// PostgreSQL is the system of record for orders and money, RabbitMQ carries the steps, Stripe takes the payment.
//
// The rule of the domain lives here: the Service (checkout, the payment worker, webhooks, the stalled-saga poller,
// reconcile), the states and sentinel errors, and the four ports it needs: Ledger, Bus, Payments and Stock.
// Adapters live in sub-packages named after their technology and never import each other:
//
//	pgledger   Ledger on PostgreSQL (pgx/v5), embedded migrations, reporting views, group commit
//	memledger  Ledger in memory (the embedded default)
//	amqpbus    Bus on RabbitMQ (amqp091-go): quorum queues, retry queue with a TTL, parking queue, redial
//	membus     Bus in memory (the embedded default)
//	stripepay  Payments with Stripe PaymentIntents (stripe-go/v76)
//	testpay    Payments following Stripe's test cards in memory (no Stripe key), scriptable for tests
//	novu       booking notifications through Novu's trigger API (an OnBooking consumer)
//
// # The saga
//
//	checkout ─► pending ─► paying ─► paid | failed | refunded
//
// Checkout moves the hold to checkout in the inventory, then writes the order (pending) and its payment request
// in the outbox in one ledger transaction. A relay publishes outbox rows with publisher confirms and removes a
// row only once confirmed. The payment worker, for a pending order, first checks that the hold is still live
// (if not, the order fails without any charge), then stores paying with the idempotency key pi:<order> before
// it creates and confirms the PaymentIntent. A success confirms the seats (paid); a decline releases them
// (failed); a success whose hold ended meanwhile is refunded with the key refund:<pi> (refunded). Each transition
// is one ledger transaction that also writes its booking event to the outbox and records the message id that
// caused it, so a redelivered message is refused. Every step is safe to repeat: the Stripe create is keyed,
// inventory Confirm and Release are idempotent, and a transition only applies from the state it expects.
//
// Stripe webhooks are verified with the endpoint secret, deduped by event id, and act on the PaymentIntent as
// re-read from Stripe, so duplicated and out-of-order events lead to the same outcome. The poller re-publishes
// the payment request of any order left in pending or paying past its deadline (with a growing backoff); the
// worker then resumes from the persisted state, and the keyed create returns the PaymentIntent a killed worker
// had already made. A delivery that keeps failing goes through the retry queue and, after Options.MaxAttempts,
// to the parking queue (onsale_settlement_dead_letters_total); its order is still re-driven by the poller.
//
// On RabbitMQ, the messages of one relay round and one topic travel as one AMQP message, an envelope (see
// amqpbus): the broker's cost is per AMQP message, so it is paid per round instead of per order. The consumer
// unpacks it, and a message of it that is retried or parked is republished alone before the envelope is
// acknowledged; a crash in between delivers the envelope's messages again, which the steps above make harmless.
//
// # Guarantees
//
// No order is lost: it is written before anything is published, and the poller re-drives it until it ends.
// No one is charged twice: one PaymentIntent per order through the deterministic key. No one is charged without
// seats: the hold is checked before the charge and the money is refunded when the seats could not be confirmed.
// Booking events are at least once (consumers dedupe by message id or, as Novu does, by a transaction id).
package settlement
