// Command runrig-simulate runs discovery networks of growing size on this
// machine — real libp2p DHT hosts and memberlist members on loopback —
// fits how their costs grow with the number of relays, and writes the
// figures (results.csv, extrapolated.csv) and their plots (PNG) into a
// directory. `make simulate` runs it into docs/simulation. With -churn and
// -partition it also lets relays leave and join, or cuts a region in two
// and heals it, and writes how long until every directory was right again
// (churn.csv).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/runrig/runrig/discovery/simulation"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == serveFlag {
		os.Exit(serveDHT(os.Args[2:]))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runrig-simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dhtSizes := fs.String("dht", "25,50,100,200,300", "sizes of the DHT networks, comma-separated (none: \"\")")
	gossipSizes := fs.String("gossip", "25,50,100,200", "sizes of the gossip clusters, comma-separated (none: \"\")")
	trials := fs.Int("trials", 10, "lookups, operations and new members measured at each size")
	window := fs.Duration("window", 30*time.Second, "how long a gossip cluster's steady traffic is measured")
	out := fs.String("out", "docs/simulation", "directory for results.csv, extrapolated.csv, churn.csv and the plots")
	perProcess := fs.Int("per-process", nodesPerProcess, "DHT nodes per process (the first process's measure)")
	churnSizes := fs.String("churn", "", "sizes of the gossip clusters and DHT networks where 20 % of the relays leave and as many join, comma-separated (none: \"\")")
	partitionSizes := fs.String("partition", "", "sizes of the gossip clusters cut in two halves and healed, comma-separated (none: \"\")")
	var churn churnRuns
	fs.DurationVar(&churn.opts.Spread, "spread", simulation.DefaultSpread, "how long a churn's departures and arrivals are spread over")
	fs.DurationVar(&churn.opts.ReconnectInterval, "reconnect", 0, "gossip members' reconnect interval in churn and partitions (0: the relay's, 30s)")
	fs.DurationVar(&churn.opts.LookupEvery, "lookup-every", simulation.DefaultLookupEvery, "how often every DHT node looks up all after churn (the relay's 10 minutes)")
	if fs.Parse(args) != nil {
		return 2
	}
	dn, err1 := sizes(*dhtSizes)
	gn, err2 := sizes(*gossipSizes)
	cn, err3 := sizes(*churnSizes)
	pn, err4 := sizes(*partitionSizes)
	if errors.Join(err1, err2, err3, err4) != nil || *trials < 1 {
		fmt.Fprintln(stderr, "runrig-simulate: sizes are numbers of at least 2, comma-separated; trials at least 1")
		return 2
	}
	churn.churn, churn.partition = cn, pn
	if err := raiseFileLimit(); err != nil {
		fmt.Fprintln(stderr, "runrig-simulate: raising the open-file limit:", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if len(dn)+len(gn) > 0 {
		if err := scaling(ctx, dn, gn, *trials, *window, *perProcess, *out, stdout); err != nil {
			fmt.Fprintln(stderr, "runrig-simulate:", err)
			return 1
		}
	}
	if len(cn)+len(pn) > 0 {
		if err := churn.run(ctx, *out, stdout); err != nil {
			fmt.Fprintln(stderr, "runrig-simulate: churn:", err)
			return 1
		}
	}
	return 0
}

// scaling measures DHT networks of sizes dn and gossip clusters of sizes
// gn, and writes the figures, their fits and plots into out.
func scaling(ctx context.Context, dn, gn []int, trials int, window time.Duration, perProcess int, out string, stdout io.Writer) error {
	var series []simulation.Series
	if len(dn) > 0 {
		s, err := dhtSeries(ctx, dn, trials, perProcess, stdout)
		if err != nil {
			return fmt.Errorf("dht: %w", err)
		}
		series = append(series, s...)
	}
	if len(gn) > 0 {
		s, err := gossipSeries(ctx, gn, trials, window, stdout)
		if err != nil {
			return fmt.Errorf("gossip: %w", err)
		}
		series = append(series, s...)
	}
	if err := simulation.WriteAll(out, series); err != nil {
		return err
	}
	if err := extrapolate(filepath.Join(out, "extrapolated.csv"), series, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: results.csv, extrapolated.csv and %d plots\n", out, len(series))
	return nil
}

// wantFiles is the open-file limit the simulation asks for: hundreds of
// nodes in one process hold both ends of every connection (tens of
// thousands of sockets at 300 DHT nodes).
const wantFiles = 1 << 20

// raiseFileLimit lifts the limit on open files to wantFiles where the
// user may (root), else the soft limit to the hard one.
func raiseFileLimit() error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	if l.Max < wantFiles {
		up := syscall.Rlimit{Cur: wantFiles, Max: wantFiles}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
			return nil
		}
	}
	l.Cur = l.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}

func sizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 2 {
			return nil, fmt.Errorf("size %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func dhtSeries(ctx context.Context, ns []int, trials, perProcess int, w io.Writer) ([]simulation.Series, error) {
	var n, p50, p99, heap, hour []float64
	for _, size := range ns {
		p, err := simulation.RunDHT(ctx, size, trials, spawnProcess, perProcess)
		if err != nil {
			return nil, fmt.Errorf("%d nodes: %w", size, err)
		}
		fmt.Fprintf(w, "dht    N=%-5d start %-8s lookup p50 %-8s p99 %-8s heap/node %6.0f KiB  lookup %6.0f KiB  refresh %6.0f KiB  publish %6.0f KiB  %7.0f KiB/node/hour\n",
			size, p.Start.Round(time.Millisecond), p.LookupP50.Round(time.Millisecond), p.LookupP99.Round(time.Millisecond),
			p.HeapPerNode/1024, p.LookupBytes/1024, p.RefreshBytes/1024, p.PublishBytes/1024, p.BytesPerHour/1024)
		n, p50, p99 = append(n, float64(size)), append(p50, ms(p.LookupP50)), append(p99, ms(p.LookupP99))
		heap, hour = append(heap, p.HeapPerNode/1024), append(hour, p.BytesPerHour/1024)
	}
	return []simulation.Series{
		simulation.Fitted("dht-lookup-p50", "DHT: region lookup, median", "ms", n, p50, false),
		simulation.Fitted("dht-lookup-p99", "DHT: region lookup, 99th percentile", "ms", n, p99, false),
		simulation.Fitted("dht-heap-per-node", "DHT: heap per node", "KiB", n, heap, true),
		simulation.Fitted("dht-traffic-per-node-hour", "DHT: traffic per relay per hour", "KiB", n, hour, true),
	}, nil
}

func gossipSeries(ctx context.Context, ns []int, trials int, window time.Duration, w io.Writer) ([]simulation.Series, error) {
	var n, p50, mx, heap, msgs, hour []float64
	for _, size := range ns {
		p, err := simulation.RunGossip(ctx, size, trials, window)
		if err != nil {
			return nil, fmt.Errorf("%d members: %w", size, err)
		}
		fmt.Fprintf(w, "gossip N=%-5d start %-8s converge p50 %-8s max %-8s heap/node %6.0f KiB  %8.0f msgs  %7.0f KiB /node/hour  asked %d joined %d\n",
			size, p.Start.Round(time.Millisecond), p.ConvergeP50.Round(time.Millisecond), p.ConvergeMax.Round(time.Millisecond),
			p.HeapPerNode/1024, p.MessagesPerHour, p.BytesPerHour/1024, p.Asked, p.Joined)
		n, p50, mx = append(n, float64(size)), append(p50, ms(p.ConvergeP50)), append(mx, ms(p.ConvergeMax))
		heap, msgs, hour = append(heap, p.HeapPerNode/1024), append(msgs, p.MessagesPerHour), append(hour, p.BytesPerHour/1024)
	}
	return []simulation.Series{
		simulation.Fitted("gossip-converge-p50", "Gossip: a new member known everywhere, median", "ms", n, p50, false),
		simulation.Fitted("gossip-converge-max", "Gossip: a new member known everywhere, slowest", "ms", n, mx, false),
		simulation.Fitted("gossip-heap-per-node", "Gossip: heap per member", "KiB", n, heap, true),
		simulation.Fitted("gossip-messages-per-node-hour", "Gossip: messages sent per member per hour", "messages", n, msgs, true),
		simulation.Fitted("gossip-traffic-per-node-hour", "Gossip: traffic sent per member per hour", "KiB", n, hour, true),
	}, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// extrapolate writes each fitted figure at 1,000 and 10,000 relays.
func extrapolate(path string, series []simulation.Series, w io.Writer) error {
	var b strings.Builder
	b.WriteString("figure,unit,fit,n_1000,n_10000\n")
	for _, s := range series {
		fmt.Fprintf(&b, "%s,%s,%q,%.4g,%.4g\n", s.Name, s.Unit, s.Fit.String(), s.Fit.At(1000), s.Fit.At(10000))
		fmt.Fprintf(w, "%-32s %-40s at 1,000: %10.4g %s   at 10,000: %10.4g %s\n", s.Name, s.Fit.String(), s.Fit.At(1000), s.Unit, s.Fit.At(10000), s.Unit)
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
