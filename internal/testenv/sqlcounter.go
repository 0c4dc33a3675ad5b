package testenv

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// SQLCounter is a pgx tracer that counts the statements sent to PostgreSQL and the round trips they take (a
// batch is one): on a shared machine these are the figures that do not move with the neighbours' load.
type SQLCounter struct {
	Stmts, Trips atomic.Int64
}

func (c *SQLCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.Stmts.Add(1)
	c.Trips.Add(1)
	return ctx
}
func (c *SQLCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *SQLCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.Trips.Add(1)
	return ctx
}
func (c *SQLCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.Stmts.Add(1)
}
func (c *SQLCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
