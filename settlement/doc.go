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
//	stripepay  Payments with Stripe PaymentIntents (stripe-go/v76), authorized then captured
//	testpay    Payments following Stripe's PaymentIntent states and test cards in memory (no Stripe key),
//	           scriptable for tests
//	novu       booking notifications through Novu's trigger API (an OnBooking consumer)
//
// # The saga
//
//	checkout ─► pending ─► paying ─┬─────────────────────► paid | failed | refunded
//	                               └─► requires_action ─┘
//
// Checkout moves the hold to checkout in the inventory, then writes the order (pending) and its payment request
// in the outbox in one ledger transaction. A relay publishes outbox rows with publisher confirms and removes a
// row only once confirmed. The payment worker, for a pending order, first checks that the hold is still live
// (if not, the order fails without any payment), then stores paying with the idempotency key pi:<order> before
// it creates the PaymentIntent with manual capture. With a payment method the server confirms it; without one,
// or when the card needs 3-D Secure, the order waits in requires_action with the client secret and the next
// action the fan's page needs, until the hold's checkout deadline (pay_by).
//
// Money is authorized first and captured only once the seats are sold: an authorization (the webhook
// payment_intent.amount_capturable_updated, or a re-read) confirms the hold in the inventory, then captures
// with the key capture:<pi>, then writes paid. An authorization that comes after the hold ended is cancelled
// with the key cancel:<pi> (the authorization is released: no money moves, so no refund and no fee) and the
// order fails with hold-expired. A decline or a failed authentication releases the hold and cancels the
// intent. A capture that fails for good after the seats were confirmed returns them to sale. Each transition
// is one ledger transaction that also writes its booking event to the outbox and records the message id that
// caused it, so a redelivered message is refused. Every step is safe to repeat: the provider's calls are keyed,
// inventory Confirm, Release and Return are idempotent, and a transition only applies from the states it expects.
//
// Stripe webhooks are verified with the endpoint secret, deduped by event id, and act on the PaymentIntent as
// re-read from Stripe, so duplicated, late and out-of-order events lead to the same outcome; an event about a
// PaymentIntent that is not an order's is acknowledged and counted. The test provider, having no webhooks,
// calls PaymentChanged instead. The poller re-publishes the payment request of any order not settled past its
// deadline (with a growing backoff; an order waiting for the fan is looked at again shortly before and at its
// pay_by), and the worker resumes from the persisted state by re-reading the PaymentIntent, or by the keyed
// create when a killed worker never stored its id. A delivery that keeps failing goes through the retry queue
// and, after Options.MaxAttempts, to the parking queue (onsale_settlement_dead_letters_total); its order is
// still re-driven by the poller.
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
// seats: money is captured only after the seats are confirmed, and an authorization whose hold ended is
// cancelled. No seats are sold without a capture: a capture that fails for good puts them back on sale.
// Booking events are at least once (consumers dedupe by message id or, as Novu does, by a transaction id).
package settlement
