// Package pgcatalogue is the catalogue on PostgreSQL: listings in one table, searched with full-text ranking and
// pg_trgm's word similarity over accent-folded text (unaccent), so a typo or a missing accent still finds the
// event, and a trigram index keeps it fast as the catalogue grows.
package pgcatalogue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/onsale/onsale/catalogue"
)

// Index is safe for concurrent use.
type Index struct{ pool *pgxpool.Pool }

var _ catalogue.Index = (*Index)(nil)

// New returns the index over pool's database; Migrate creates its schema.
func New(pool *pgxpool.Pool) *Index { return &Index{pool: pool} }

// schema is idempotent: Migrate runs it under an advisory lock, at every start if asked. onsale_fold is declared
// immutable (unaccent with its dictionary named is), so it can back an index.
const schema = `
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE OR REPLACE FUNCTION onsale_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    AS $$ SELECT lower(unaccent('unaccent'::regdictionary, $1)) $$;
CREATE TABLE IF NOT EXISTS catalogue_listings (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    venue       text NOT NULL DEFAULT '',
    city        text NOT NULL DEFAULT '',
    starts_at   timestamptz,
    description text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS catalogue_listings_trgm ON catalogue_listings
    USING gin (onsale_fold(name || ' ' || venue || ' ' || city || ' ' || description) gin_trgm_ops);
CREATE INDEX IF NOT EXISTS catalogue_listings_city ON catalogue_listings (onsale_fold(city));
CREATE INDEX IF NOT EXISTS catalogue_listings_show ON catalogue_listings (starts_at, id);
`

// migrationLock serializes concurrent migrators of the catalogue's schema.
const migrationLock = 0x6f6e63617461 // "oncata"

// Migrate creates the catalogue's extensions, function, table and indexes where missing.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrate the catalogue: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLock)); err != nil {
		return fmt.Errorf("migrate the catalogue: lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrationLock))
	}()
	if _, err := conn.Exec(ctx, schema); err != nil {
		return fmt.Errorf("migrate the catalogue: %w", err)
	}
	return nil
}

func (x *Index) Put(ctx context.Context, l catalogue.Listing) error {
	_, err := x.pool.Exec(ctx, `INSERT INTO catalogue_listings (id, name, venue, city, starts_at, description)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET name = $2, venue = $3, city = $4, starts_at = $5, description = $6, updated_at = now()`,
		l.ID, l.Name, l.Venue, l.City, showTime(l.StartsAt), l.Description)
	if err != nil {
		return fmt.Errorf("catalogue: put %s: %w", l.ID, err)
	}
	return nil
}

func (x *Index) Get(ctx context.Context, id string) (catalogue.Listing, error) {
	row := x.pool.QueryRow(ctx, `SELECT id, name, venue, city, starts_at, description FROM catalogue_listings WHERE id = $1`, id)
	l, err := scan(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, catalogue.ErrNotFound
	}
	if err != nil {
		return l, fmt.Errorf("catalogue: get %s: %w", id, err)
	}
	return l, nil
}

// maxWords bounds the words of a query the SQL matches one by one.
const maxWords = 10

// minSimilarity is the word similarity from which a query word matches as a typo: pg_trgm's default (0.6) misses
// a dropped letter in a short word ("concrt").
const minSimilarity = 0.5

// Search keeps a listing only if every query word occurs in it (as a prefix of one of its words) or is like one
// of its words (word similarity); it ranks by matches weighted by field (name, then venue and city, then
// description), then by show time and id, the same order the in-memory index uses.
func (x *Index) Search(ctx context.Context, q catalogue.Query) (catalogue.Page, error) {
	q = q.Normalize()
	offset, err := catalogue.DecodeCursor(q.Cursor)
	if err != nil {
		return catalogue.Page{}, err
	}
	words := catalogue.Words(q.Q)
	if len(words) > maxWords {
		words = words[:maxWords]
	}
	args := []any{}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	where, score := []string{"true"}, []string{}
	const doc = `onsale_fold(name || ' ' || venue || ' ' || city || ' ' || description)`
	for _, w := range words {
		p, like := arg(w), arg(likePrefix(w))
		// Both tests are operators the trigram index answers (<% at pg_trgm.word_similarity_threshold).
		where = append(where, fmt.Sprintf(`(%s ~ ('(^|[^[:alnum:]])' || %s) OR %s <%% %s)`, doc, like, p, doc))
		score = append(score, fmt.Sprintf(`greatest(%s, %s, %s, %s)`,
			field("name", 3, p, like), field("venue", 2, p, like), field("city", 2, p, like), field("description", 1, p, like)))
	}
	if q.City != "" {
		where = append(where, "onsale_fold(city) = onsale_fold("+arg(strings.ReplaceAll(strings.TrimSpace(q.City), "\x00", ""))+")")
	}
	order := "starts_at ASC NULLS LAST, id"
	if len(score) > 0 {
		order = strings.Join(score, " + ") + " DESC, " + order
	}
	sql := `SELECT id, name, venue, city, starts_at, description FROM catalogue_listings WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY ` + order + ` LIMIT ` + arg(q.Limit+1) + ` OFFSET ` + arg(offset)
	var ls []catalogue.Listing
	err = pgx.BeginFunc(ctx, x.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL pg_trgm.word_similarity_threshold = "+strconv.FormatFloat(minSimilarity, 'f', 2, 64)); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		ls, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalogue.Listing, error) { return scan(r) })
		return err
	})
	if err != nil {
		return catalogue.Page{}, fmt.Errorf("catalogue: search: %w", err)
	}
	var p catalogue.Page
	if len(ls) > q.Limit {
		ls, p.Next = ls[:q.Limit], catalogue.EncodeCursor(offset+q.Limit)
	}
	p.Listings = ls
	return p, nil
}

// field scores a word against one column: 1 for a whole word, 0.9 for a prefix, 0.8 × similarity for a typo.
func field(col string, weight int, word, like string) string {
	f := "onsale_fold(" + col + ")"
	return fmt.Sprintf(`%d * CASE WHEN %s ~ ('(^|[^[:alnum:]])' || %s || '($|[^[:alnum:]])') THEN 1
		WHEN %s ~ ('(^|[^[:alnum:]])' || %s) THEN 0.9
		WHEN word_similarity(%s, %s) >= %v THEN 0.8 * word_similarity(%s, %s) ELSE 0 END`,
		weight, f, like, f, like, word, f, minSimilarity, word, f)
}

// likePrefix quotes a folded word for the regular expressions above; Words leaves only letters and digits, so
// this is belt and braces.
func likePrefix(w string) string {
	var b strings.Builder
	for _, r := range w {
		if strings.ContainsRune(`\.^$|?*+()[]{}`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func showTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func scan(row pgx.Row) (catalogue.Listing, error) {
	var l catalogue.Listing
	var at *time.Time
	if err := row.Scan(&l.ID, &l.Name, &l.Venue, &l.City, &at, &l.Description); err != nil {
		return l, err
	}
	if at != nil {
		l.StartsAt = at.UTC()
	}
	return l, nil
}
