package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/runrig/runrig/discovery/simulation"
)

// churnRuns are the churn and partition scenarios asked for.
type churnRuns struct {
	churn, partition []int // sizes
	opts             simulation.ChurnOptions
}

// run runs every scenario asked for, one at a time, printing a line per
// result, and writes them all into dir/churn.csv. A scenario whose
// directories were not right in time is written too, and reported as an
// error after the others ran; an ended ctx stops the runs.
func (c churnRuns) run(ctx context.Context, dir string, w io.Writer) error {
	var points []simulation.ChurnPoint
	var failed []error
	record := func(p simulation.ChurnPoint, err error) error {
		points = append(points, p)
		printChurn(w, p, c.opts, err)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			failed = append(failed, fmt.Errorf("%s %s N=%d: %w", p.Scenario, p.Layer, p.N, err))
		}
		return nil
	}
	for _, n := range c.churn {
		if err := record(simulation.RunGossipChurn(ctx, n, c.opts)); err != nil {
			return err
		}
		if err := record(simulation.RunDHTChurn(ctx, n, c.opts)); err != nil {
			return err
		}
	}
	for _, n := range c.partition {
		if err := record(simulation.RunGossipPartition(ctx, n, c.opts)); err != nil {
			return err
		}
	}
	if err := writeChurn(dir, points); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s\n", filepath.Join(dir, "churn.csv"))
	return errors.Join(failed...)
}

// printChurn prints one result.
func printChurn(w io.Writer, p simulation.ChurnPoint, o simulation.ChurnOptions, err error) {
	round := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	switch {
	case p.Scenario == "partition":
		fmt.Fprintf(w, "partition gossip N=%-4d each half saw the other down after %-9s cut held %-9s whole again %-9s after the heal  reconnects %d joins %d wants %d pulls %d",
			p.N, round(p.Detect), round(p.Held), round(p.UntilCorrect), p.Reconnects, p.Joins, p.Wants, p.Pulls)
	case p.Layer == "dht":
		every := o.LookupEvery
		if every <= 0 {
			every = simulation.DefaultLookupEvery
		}
		fmt.Fprintf(w, "churn     dht    N=%-4d left %d joined %d  right %-9s after the last change, %d round(s) of lookups every %s  crashed relays still listed up: %d of %d (until their record expires)",
			p.N, p.Left, p.Joined, round(p.UntilCorrect), p.Rounds, every, p.StillWrong, p.Left/2)
	default:
		fmt.Fprintf(w, "churn     gossip N=%-4d left %d joined %d  right %-9s after the last change  wants %d joins %d reconnects %d pulls %d",
			p.N, p.Left, p.Joined, round(p.UntilCorrect), p.Wants, p.Joins, p.Reconnects, p.Pulls)
	}
	if err != nil {
		fmt.Fprintf(w, "  FAILED (%d wrong): %v", p.StillWrong, err)
	}
	fmt.Fprintln(w)
}

// writeChurn writes dir/churn.csv.
func writeChurn(dir string, points []simulation.ChurnPoint) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "churn.csv"))
	if err != nil {
		return err
	}
	if err := simulation.WriteChurnCSV(f, points); err != nil {
		f.Close()
		return fmt.Errorf("churn.csv: %w", err)
	}
	return f.Close()
}
