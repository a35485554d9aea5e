package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runrig/runrig/relay/store"
)

// Apply implements store.Queue.
func (db *DB) Apply(ctx context.Context, c store.Change) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := markSeen(ctx, tx, c.Seen); err != nil {
			return err
		}
		if c.SeenObject != "" {
			if err := markSeen(ctx, tx, "object:"+c.SeenObject); err != nil {
				return err
			}
		}
		if err := applyFollows(ctx, tx, c); err != nil {
			return err
		}
		if k := c.Remove; k != nil {
			if _, err := tx.ExecContext(ctx, `DELETE FROM subscribers WHERE slice = ? AND peer = ?`, k.Slice, k.Peer); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE slice = ? AND peer = ?`, k.Slice, k.Peer); err != nil {
				return err
			}
		}
		if k := c.DropQueued; k != nil {
			if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE slice = ? AND peer = ?`, k.Slice, k.Peer); err != nil {
				return err
			}
		}
		if c.Upsert != nil {
			if err := upsertSubscriber(ctx, tx, c.Upsert); err != nil {
				return err
			}
		}
		if c.Update != nil {
			if err := updateSubscriber(ctx, tx, c.Update); err != nil {
				return err
			}
		}
		if fb := c.FollowBack; fb != nil {
			res, err := tx.ExecContext(ctx, `UPDATE subscribers SET follow_back_state = ?, updated_at = ?
				WHERE slice = ? AND peer = ? AND follow_back_id = ?`, fb.State, ms(time.Now()), fb.Slice, fb.Peer, fb.FollowID)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return store.ErrNotFound
			}
		}
		if c.DeleteListing != nil {
			if _, err := tx.ExecContext(ctx, `DELETE FROM listings WHERE id = ? AND actor = ?`,
				c.DeleteListing.ID, c.DeleteListing.Actor); err != nil {
				return err
			}
		}
		if c.PutListing != nil {
			if err := putListing(ctx, tx, c.PutListing); err != nil {
				return err
			}
		}
		if err := applyBridgeItem(ctx, tx, c); err != nil {
			return err
		}
		if err := appendAudit(ctx, tx, c.Audit); err != nil {
			return err
		}
		if err := db.stmts.insertMessages(ctx, tx, c.Messages); err != nil {
			return err
		}
		return notifyApplied(ctx, db, tx, c)
	})
}

// notifyApplied tells other replicas what c changed that they hold in
// memory: new deliveries, and deliveries dropped for a subscription (those
// made before the change's messages are void).
func notifyApplied(ctx context.Context, db *DB, tx *sql.Tx, c store.Change) error {
	if db.d.Notify == nil {
		return nil
	}
	for _, k := range []*store.SubscriptionKey{c.Remove, c.DropQueued} {
		if k == nil {
			continue
		}
		cutoff := time.Now()
		for _, m := range c.Messages {
			if !m.At.IsZero() && m.At.Before(cutoff) {
				cutoff = m.At
			}
		}
		if err := db.notify(ctx, tx, store.TopicDropped, store.DroppedPayload(k.Slice, k.Peer, cutoff)); err != nil {
			return err
		}
	}
	for _, m := range c.Messages {
		if len(m.Targets) > 0 {
			return db.notify(ctx, tx, store.TopicQueue, "")
		}
	}
	return nil
}

// markSeen records an id as seen; ErrDuplicate if it was already.
func markSeen(ctx context.Context, tx *sql.Tx, id string) error {
	if id == "" {
		return nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO seen(activity_id, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING`, id, ms(time.Now()))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrDuplicate
	}
	return nil
}

// applyFollows records this relay's Follow of a relay, or the answer to it.
func applyFollows(ctx context.Context, tx *sql.Tx, c store.Change) error {
	now := ms(time.Now())
	if f := c.Follow; f != nil {
		if _, err := tx.ExecContext(ctx, `INSERT INTO relay_follows(peer, actor, inbox, follow_id, state, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(peer) DO UPDATE SET actor = excluded.actor, inbox = excluded.inbox,
			follow_id = excluded.follow_id, state = excluded.state, updated_at = excluded.updated_at`,
			f.Peer, f.Actor, f.Inbox, f.FollowID, f.State, now, now); err != nil {
			return err
		}
	}
	if c.Unfollow != "" {
		if _, err := tx.ExecContext(ctx, `DELETE FROM relay_follows WHERE peer = ?`, c.Unfollow); err != nil {
			return err
		}
	}
	if a := c.FollowAnswer; a != nil {
		res, err := tx.ExecContext(ctx, `UPDATE relay_follows SET state = ?, updated_at = ? WHERE peer = ? AND follow_id = ?`,
			a.State, now, a.Peer, a.FollowID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
	}
	return nil
}

// RelayFollows implements store.Federation.
func (db *DB) RelayFollows(ctx context.Context) ([]store.RelayFollow, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT peer, actor, inbox, follow_id, state, created_at, updated_at
		FROM relay_follows ORDER BY peer`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.RelayFollow
	for rows.Next() {
		var f store.RelayFollow
		var created, updated int64
		if err := rows.Scan(&f.Peer, &f.Actor, &f.Inbox, &f.FollowID, &f.State, &created, &updated); err != nil {
			return nil, err
		}
		f.CreatedAt, f.UpdatedAt = fromMS(created), fromMS(updated)
		out = append(out, f)
	}
	return out, rows.Err()
}

// RelayFollow implements store.Federation.
func (db *DB) RelayFollow(ctx context.Context, peer string) (store.RelayFollow, error) {
	var f store.RelayFollow
	var created, updated int64
	err := db.r.QueryRowContext(ctx, `SELECT peer, actor, inbox, follow_id, state, created_at, updated_at
		FROM relay_follows WHERE peer = ?`, peer).Scan(&f.Peer, &f.Actor, &f.Inbox, &f.FollowID, &f.State, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("relay follow of %s: %w", peer, store.ErrNotFound)
	}
	f.CreatedAt, f.UpdatedAt = fromMS(created), fromMS(updated)
	return f, err
}

// insertMessages queues msgs: a payload each and its deliveries.
func (st *statements) insertMessages(ctx context.Context, tx *sql.Tx, msgs []store.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	payload := tx.StmtContext(ctx, st.insertPayload)
	for _, m := range msgs {
		if len(m.Targets) == 0 {
			continue
		}
		at := ms(m.At)
		if at == 0 {
			at = ms(time.Now())
		}
		var pid int64
		if err := payload.QueryRowContext(ctx, m.ActivityID, m.Body, at, ms(m.Expires), m.KeyID).Scan(&pid); err != nil {
			return err
		}
		if err := st.queueDeliveries(ctx, tx, pid, at, m.Targets, m.ToSubscribers); err != nil {
			return err
		}
	}
	return nil
}

// queueDeliveries queues one payload's deliveries, several rows per
// statement (a fan-out to 500 subscribers is 8 statements, not 500).
func (st *statements) queueDeliveries(ctx context.Context, tx *sql.Tx, pid, at int64, targets []store.Target, toSubscribers bool) error {
	stmts := st.insertDeliveries
	if toSubscribers {
		stmts = st.insertDeliveriesSub
	}
	for len(targets) > 0 {
		i := 0
		for insertBatches[i] > len(targets) {
			i++
		}
		n := insertBatches[i]
		args := make([]any, 0, 2+3*n)
		args = append(args, pid, at)
		for _, t := range targets[:n] {
			args = append(args, t.Peer, t.Inbox, t.Slice)
		}
		if _, err := tx.StmtContext(ctx, stmts[i]).ExecContext(ctx, args...); err != nil {
			return err
		}
		targets = targets[n:]
	}
	return nil
}

// insertBatches are the rows per statement of queueDeliveries, largest
// first; a fan-out is cut into as few statements of these sizes as fit.
var insertBatches = []int{64, 16, 4, 1}

// sqlInsertDeliveries inserts n deliveries of one payload (?1) made at ?2;
// each row's peer, inbox and slice follow. With toSubscribers, a row goes
// in only while its subscription holds: one that ends before the change
// commits gets nothing (lock: the dialect's ShareLock).
func sqlInsertDeliveries(n int, toSubscribers bool, lock string) string {
	q := `INSERT INTO deliveries(payload_id, peer, inbox, slice, state, next_at, created_at)
		SELECT ?1, v.column1, v.column2, v.column3, 'queued', ?2, ?2 FROM (VALUES (?, ?, ?)` + strings.Repeat(`, (?, ?, ?)`, n-1) + `) AS v`
	if toSubscribers {
		q += ` WHERE EXISTS (SELECT 1 FROM subscribers s WHERE s.slice = v.column3 AND s.peer = v.column1 AND s.state = 'accepted' ` + lock + `)`
	}
	return q
}

const sqlInsertPayload = `INSERT INTO payloads(activity_id, body, created_at, expires_at, key_id) VALUES (?, ?, ?, ?, ?) RETURNING id`

const deliveryCols = `d.id, d.payload_id, p.activity_id, d.peer, d.inbox, d.slice, d.state, d.attempts, d.next_at, d.last_error, d.created_at`

func scanDelivery(row scanner) (store.Delivery, error) {
	var d store.Delivery
	var next, created int64
	err := row.Scan(&d.ID, &d.PayloadID, &d.ActivityID, &d.Peer, &d.Inbox, &d.Slice, &d.State, &d.Attempts, &next, &d.LastError, &created)
	d.NextAttempt, d.CreatedAt = fromMS(next), fromMS(created)
	return d, err
}

// Claim implements store.Queue.
func (db *DB) Claim(ctx context.Context, req store.ClaimRequest) (store.Claimed, error) {
	out := store.Claimed{Bodies: map[int64][]byte{}}
	now := ms(req.Now)
	args := []any{now + req.Lease.Milliseconds(), req.Owner, now, now, now, now, req.Owner}
	exclude := ""
	if len(req.ExcludePeers) > 0 {
		exclude = ` AND peer NOT IN (?` + strings.Repeat(`, ?`, len(req.ExcludePeers)-1) + `)`
		for _, p := range req.ExcludePeers {
			args = append(args, p)
		}
	}
	shard := ""
	if db.d.Hash != "" && req.Shards > 1 {
		shard = ` AND (` + db.d.Hash + `(peer) & 2147483647) % ? = ?`
		args = append(args, req.Shards, req.Shard)
	}
	args = append(args, req.Limit, now)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if db.d.SerializeClaims != "" {
			if _, err := tx.ExecContext(ctx, db.d.SerializeClaims); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE lease_until <= ? AND payload_id IN
			(SELECT id FROM payloads WHERE expires_at != 0 AND expires_at <= ?)`, now, now)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		out.Expired = int(n)
		if err := claimRows(ctx, db, tx, exclude+shard, args, &out); err != nil {
			return err
		}
		return claimBodies(ctx, tx, &out)
	})
	return out, err
}

// claimRows leases the due rows: not dead, due, not leased, the peer's
// circuit closed, the peer not excluded (and in this replica's shard) and
// not served by another replica's leases (one replica serves a peer at a
// time, also while replicas disagree on the shards).
func claimRows(ctx context.Context, db *DB, tx *sql.Tx, exclude string, args []any, out *store.Claimed) error {
	rows, err := tx.QueryContext(ctx, `UPDATE deliveries SET lease_until = ?, lease_owner = ? WHERE id IN (
		SELECT id FROM deliveries WHERE state != 'dead' AND next_at <= ? AND lease_until <= ?
		AND peer NOT IN (SELECT peer FROM peers WHERE circuit_until > ?)
		AND peer NOT IN (SELECT peer FROM deliveries WHERE lease_owner != '' AND lease_until > ? AND lease_owner != ?)`+exclude+`
		ORDER BY next_at, id LIMIT ? `+db.d.ClaimLock+`) AND lease_until <= ?
		RETURNING id, payload_id, peer, inbox, slice, state, attempts, next_at, last_error, created_at, lease_owner`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var d store.Delivery
		var next, created int64
		if err := rows.Scan(&d.ID, &d.PayloadID, &d.Peer, &d.Inbox, &d.Slice, &d.State, &d.Attempts, &next, &d.LastError, &created, &d.Owner); err != nil {
			return err
		}
		d.NextAttempt, d.CreatedAt = fromMS(next), fromMS(created)
		out.Deliveries = append(out.Deliveries, d)
		out.Bodies[d.PayloadID] = nil
	}
	return rows.Err()
}

// claimBodies reads each claimed payload once and gives its deliveries
// the payload's activity id, expiry and key.
func claimBodies(ctx context.Context, tx *sql.Tx, out *store.Claimed) error {
	type meta struct {
		id, keyID string
		expires   int64
	}
	metas := make(map[int64]meta, len(out.Bodies))
	for pid := range out.Bodies {
		var body []byte
		var m meta
		if err := tx.QueryRowContext(ctx, `SELECT body, activity_id, expires_at, key_id FROM payloads WHERE id = ?`, pid).Scan(&body, &m.id, &m.expires, &m.keyID); err != nil {
			return fmt.Errorf("payload %d: %w", pid, err)
		}
		out.Bodies[pid] = body
		metas[pid] = m
	}
	for i := range out.Deliveries {
		m := metas[out.Deliveries[i].PayloadID]
		out.Deliveries[i].ActivityID, out.Deliveries[i].Expires, out.Deliveries[i].KeyID = m.id, fromMS(m.expires), m.keyID
	}
	return nil
}

// peerTally sums one batch's outcomes for one peer, so peer health is
// written once per peer per batch rather than once per delivery.
type peerTally struct {
	delivered, failed int64
	lastSuccess       time.Time
	lastFailure       time.Time
	lastError         string
	failStreak        int64 // failures after the batch's last success
	circuitUntil      time.Time
}

// batchSummary is what a batch of outcomes changes: deliveries to delete,
// payloads that may have become orphans, and each peer's tally.
type batchSummary struct {
	done     map[string][]int64 // by lease owner
	payloads map[int64]bool
	tallies  map[string]*peerTally
}

// cleanErrors returns outcomes with their error texts fit to keep
// (store.PeerText: a peer shapes them), once per batch, copying the slice
// only when a text changes.
func cleanErrors(outcomes []store.Outcome) []store.Outcome {
	var out []store.Outcome
	for i, o := range outcomes {
		if clean := store.PeerText(o.Err, 0); clean != o.Err {
			if out == nil {
				out = slices.Clone(outcomes)
			}
			out[i].Err = clean
		}
	}
	if out == nil {
		return outcomes
	}
	return out
}

func summarize(outcomes []store.Outcome) batchSummary {
	b := batchSummary{done: map[string][]int64{}, payloads: map[int64]bool{}, tallies: map[string]*peerTally{}}
	for _, o := range outcomes {
		if o.Deferred {
			continue
		}
		if o.Delivered || o.Dropped != "" {
			b.done[o.Delivery.Owner] = append(b.done[o.Delivery.Owner], o.Delivery.ID)
			b.payloads[o.Delivery.PayloadID] = true
		}
		if o.Dropped != "" {
			continue // not attempted: says nothing of the peer
		}
		t := b.tallies[o.Delivery.Peer]
		if t == nil {
			t = &peerTally{}
			b.tallies[o.Delivery.Peer] = t
		}
		if o.Delivered {
			t.delivered++
			t.failStreak = 0
			if o.At.After(t.lastSuccess) {
				t.lastSuccess = o.At
			}
			continue
		}
		t.failed++
		t.failStreak++
		if o.At.After(t.lastFailure) {
			t.lastFailure, t.lastError = o.At, o.Err
		}
		if o.CircuitUntil.After(t.circuitUntil) {
			t.circuitUntil = o.CircuitUntil
		}
	}
	return b
}

// Complete implements store.Queue.
func (db *DB) Complete(ctx context.Context, outcomes []store.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	outcomes = cleanErrors(outcomes)
	sum := summarize(outcomes)
	done, payloads, tallies := sum.done, sum.payloads, sum.tallies
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := deleteDone(ctx, tx, done); err != nil {
			return err
		}
		retry, defer_ := tx.StmtContext(ctx, db.stmts.retry), tx.StmtContext(ctx, db.stmts.deferDelivery)
		for _, o := range outcomes {
			var err error
			switch {
			case o.Delivered, o.Dropped != "":
			case o.Deferred:
				_, err = defer_.ExecContext(ctx, ms(o.NextAttempt), o.Delivery.ID, o.Delivery.Owner)
			default:
				state := store.Retrying
				if o.Dead {
					state = store.Dead
				}
				_, err = retry.ExecContext(ctx, state, ms(o.NextAttempt), o.Err, o.Delivery.ID, o.Delivery.Owner)
			}
			if err != nil {
				return fmt.Errorf("delivery %d: %w", o.Delivery.ID, err)
			}
		}
		if err := db.stmts.foldHealth(ctx, tx, tallies); err != nil {
			return err
		}
		orphan := tx.StmtContext(ctx, db.stmts.dropPayload)
		for pid := range payloads {
			if _, err := orphan.ExecContext(ctx, pid); err != nil {
				return err
			}
		}
		return nil
	})
}

// deleteDone deletes delivered and dropped deliveries, by lease owner:
// a row whose lease went to another replica is not this batch's to delete.
func deleteDone(ctx context.Context, tx *sql.Tx, done map[string][]int64) error {
	for owner, all := range done {
		for start := 0; start < len(all); start += 500 {
			ids := all[start:min(start+500, len(all))]
			args := make([]any, 0, len(ids)+1)
			args = append(args, owner)
			for _, id := range ids {
				args = append(args, id)
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE lease_owner = ? AND id IN (?`+strings.Repeat(`, ?`, len(ids)-1)+`)`, args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// Deliveries implements store.Queue.
func (db *DB) Deliveries(ctx context.Context, f store.DeliveryFilter) ([]store.Delivery, error) {
	q := `SELECT ` + deliveryCols + ` FROM deliveries d JOIN payloads p ON p.id = d.payload_id WHERE 1=1`
	var args []any
	if f.State != "" {
		q += ` AND d.state = ?`
		args = append(args, f.State)
	}
	if f.Peer != "" {
		q += ` AND d.peer = ?`
		args = append(args, f.Peer)
	}
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	q += ` ORDER BY d.id LIMIT ?`
	args = append(args, f.Limit)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// RetryDead implements store.Queue.
func (db *DB) RetryDead(ctx context.Context, ids []int64, now time.Time, audit *store.AuditEntry) (int, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		q := `UPDATE deliveries SET state = 'retrying', next_at = ?, lease_until = 0, lease_owner = '' WHERE state = 'dead'`
		args := []any{ms(now)}
		if len(ids) > 0 {
			q += ` AND id IN (?` + strings.Repeat(`, ?`, len(ids)-1) + `)`
			for _, id := range ids {
				args = append(args, id)
			}
		}
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil || audit == nil {
			return err
		}
		return appendAudit(ctx, tx, []store.AuditEntry{*audit})
	})
	return int(n), err
}

// QueueDepth implements store.Queue.
func (db *DB) QueueDepth(ctx context.Context) (map[store.DeliveryState]int, error) {
	out := map[store.DeliveryState]int{store.Queued: 0, store.Retrying: 0, store.Dead: 0}
	rows, err := db.r.QueryContext(ctx, `SELECT state, COUNT(*) FROM deliveries GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var s store.DeliveryState
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}
