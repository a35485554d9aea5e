package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/runrig/runrig/relay/store"
)

// putListing adds or replaces a listing. A listing id already held by
// another actor is left alone: only its author may replace it.
func putListing(ctx context.Context, tx *sql.Tx, l *store.ListingRecord) error {
	var owner string
	err := tx.QueryRowContext(ctx, `SELECT actor FROM listings WHERE id = ?`, l.ID).Scan(&owner)
	switch {
	case err == nil && owner != l.Actor:
		return nil
	case err == nil:
		if _, err := tx.ExecContext(ctx, `DELETE FROM listings WHERE id = ?`, l.ID); err != nil {
			return err
		}
	case err != sql.ErrNoRows:
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO listings(id, activity_id, actor, peer, kind, name, start_at, end_at,
		lat, lon, activity, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		l.ID, l.ActivityID, l.Actor, l.Peer, l.Kind, l.Name, ms(l.Start), ms(l.End), l.Lat, l.Lon, l.Activity,
		ms(l.ReceivedAt)); err != nil {
		return err
	}
	for _, r := range l.Regions {
		if _, err := tx.ExecContext(ctx, `INSERT INTO listing_regions(listing_id, region) VALUES (?, ?) ON CONFLICT DO NOTHING`, l.ID, r); err != nil {
			return err
		}
	}
	for _, p := range l.Products {
		if _, err := tx.ExecContext(ctx, `INSERT INTO listing_products(listing_id, product) VALUES (?, ?) ON CONFLICT DO NOTHING`, l.ID, p); err != nil {
			return err
		}
	}
	return nil
}

// Listing implements store.Listings.
func (db *DB) Listing(ctx context.Context, id string) (store.ListingRecord, error) {
	ls, err := queryListings(ctx, db, `WHERE l.id = ?`, []any{id}, 1, 0)
	if err != nil {
		return store.ListingRecord{}, err
	}
	if len(ls) == 0 {
		return store.ListingRecord{}, store.ErrNotFound
	}
	return ls[0], nil
}

// Listings implements store.Listings.
func (db *DB) Listings(ctx context.Context, q store.ListingQuery) ([]store.ListingRecord, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	if q.Now.IsZero() {
		q.Now = time.Now()
	}
	query := `WHERE l.end_at > ?`
	args := []any{ms(q.Now)}
	if q.Kind != "" {
		query += ` AND l.kind = ?`
		args = append(args, q.Kind)
	}
	if q.Region != "" {
		query += ` AND EXISTS (SELECT 1 FROM listing_regions r WHERE r.listing_id = l.id AND r.region = ?)`
		args = append(args, q.Region)
	}
	if q.Actor != "" {
		query += ` AND l.actor = ?`
		args = append(args, q.Actor)
	}
	if q.Product != "" {
		query += ` AND EXISTS (SELECT 1 FROM listing_products p WHERE p.listing_id = l.id AND p.product = ?)`
		args = append(args, q.Product)
	}
	return queryListings(ctx, db, query, args, q.Limit, q.Offset)
}

func queryListings(ctx context.Context, db *DB, where string, args []any, limit, offset int) ([]store.ListingRecord, error) {
	query := `SELECT l.id, l.activity_id, l.actor, l.peer, l.kind, l.name, l.start_at, l.end_at, l.lat, l.lon,
		l.activity, l.received_at FROM listings l ` + where + ` ORDER BY l.end_at, l.id LIMIT ? OFFSET ?`
	args = append(args, limit, offset)
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.ListingRecord
	for rows.Next() {
		var l store.ListingRecord
		var start, end, recv int64
		if err := rows.Scan(&l.ID, &l.ActivityID, &l.Actor, &l.Peer, &l.Kind, &l.Name, &start, &end, &l.Lat, &l.Lon,
			&l.Activity, &recv); err != nil {
			return nil, err
		}
		l.Start, l.End, l.ReceivedAt = fromMS(start), fromMS(end), fromMS(recv)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Regions, err = queryStrings(ctx, db, `SELECT region FROM listing_regions WHERE listing_id = ? ORDER BY region`, out[i].ID); err != nil {
			return nil, err
		}
		if out[i].Products, err = queryStrings(ctx, db, `SELECT product FROM listing_products WHERE listing_id = ? ORDER BY product`, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func queryStrings(ctx context.Context, db *DB, query string, args ...any) ([]string, error) {
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
