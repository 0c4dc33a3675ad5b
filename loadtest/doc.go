// Package loadtest rehearses an on-sale against any onsale server: it simulates fans as fans behave (they arrive on
// a curve, join the waiting room, poll or stream their place, hold seats, pay in the page or let the server confirm,
// pass, fail or miss 3-D Secure, and give up at every step), measures every endpoint and the time to pay, samples
// the organizer's counters every second, audits the result for oversell and for late authorizations captured,
// checks it against a budget and writes the report as JSON and as a self-contained HTML page.
//
// With Door set, the doors open once the sale is over: the organizer refunds a share of the paid orders, every paid
// order's tickets are read with its order token, and gates scan them at a set rate, with tickets shown twice, exits
// and re-entries, forged codes, another event's ticket, refunded tickets and replayed nonces among them; the door
// audit checks each answer and the event's check-in counters.
//
// One process drives 100,000 fans on two cores: a fan is a small struct, not a goroutine. Each fan's next action
// sits in a time-ordered heap; a dispatcher hands due actions to a bounded pool of workers, each of which makes one
// request through a shared fasthttp client and schedules the fan's next action. Only the fans that follow the
// server-sent event stream hold a goroutine, and their number is capped.
//
// The binary wires it as:
//
//	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
//	cfg := loadtest.Flags(fs)
//	if err := fs.Parse(args); err != nil { … }
//	err := loadtest.Execute(ctx, *cfg, os.Stdout, os.Stderr) // runs, writes the reports, checks the budget
//
// Execute returns an error wrapping ErrBudget when the budget is missed, and ErrAudit when the audit failed with or
// without a budget; the binary turns any error into exit status 1. Run, LoadBudget, Report.Check, Report.WriteJSON
// and Report.WriteHTML are the parts Execute is made of.
package loadtest
