package pgcatalogue_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onsale/onsale/catalogue"
	"github.com/onsale/onsale/catalogue/catalogtest"
	"github.com/onsale/onsale/catalogue/pgcatalogue"
	"github.com/onsale/onsale/internal/testenv"
)

func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	for range 2 { // the schema is idempotent
		if err := pgcatalogue.Migrate(ctx, pool); err != nil {
			t.Fatal(err)
		}
	}
	return pool
}

// TestConformance runs the catalogue's suite on the real PostgreSQL (unaccent, pg_trgm).
func TestConformance(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) catalogue.Index { return pgcatalogue.New(newPool(t)) })
}

// TestTrigramIndex: with enough listings the planner answers a typo search from the trigram index rather than by
// reading the table, so search stays fast as the catalogue grows.
func TestTrigramIndex(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	if _, err := pool.Exec(ctx, `INSERT INTO catalogue_listings (id, name, city)
		SELECT 'ev-' || i, 'Concert number ' || i, 'City ' || (i % 50) FROM generate_series(1, 5000) i;
		ANALYZE catalogue_listings`); err != nil {
		t.Fatal(err)
	}
	var plan strings.Builder
	x := pgcatalogue.New(pool)
	if p, err := x.Search(ctx, catalogue.Query{Q: "concrt numbr 4711"}); err != nil || len(p.Listings) == 0 || p.Listings[0].ID != "ev-4711" {
		t.Fatalf("search among 5,000: %v %+v", err, p)
	}
	rows, err := pool.Query(ctx, `EXPLAIN SELECT id FROM catalogue_listings
		WHERE onsale_fold(name || ' ' || venue || ' ' || city || ' ' || description) ~ '(^|[^[:alnum:]])concrt'
		   OR 'concrt' <% onsale_fold(name || ' ' || venue || ' ' || city || ' ' || description)`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(line + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.String(), "catalogue_listings_trgm") {
		t.Errorf("the trigram index is not used:\n%s", plan.String())
	}
}
