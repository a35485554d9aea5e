package postgres_test

import (
	"context"
	"testing"

	"github.com/runrig/runrig/relay/store"
	"github.com/runrig/runrig/relay/store/postgres"
	"github.com/runrig/runrig/relay/store/postgres/pgtest"
	"github.com/runrig/runrig/relay/store/storetest"
)

func TestStoreContract(t *testing.T) {
	srv := pgtest.Server(t)
	storetest.Run(t, func(t *testing.T, dir string) store.Store {
		db, err := postgres.Open(context.Background(), srv.Database(t, dir))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}
