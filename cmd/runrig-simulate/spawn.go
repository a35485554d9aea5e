package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/runrig/runrig/discovery/simulation"
)

// nodesPerProcess is how many DHT nodes one process holds: both ends of
// their connections must fit under its open-file limit.
const nodesPerProcess = 100

// serveFlag makes this program the other process of a spawn.
const serveFlag = "-serve-dht"

// spawnProcess starts count DHT nodes in a child process of this program
// (simulation.Spawn).
func spawnProcess(ctx context.Context, first, count int, boot []string, key func(string, ed25519.PublicKey)) (simulation.Remote, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, serveFlag, fmt.Sprintf("%d,%d", first, count), strings.Join(boot, ","))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, stdin: stdin, Reports: simulation.ReadReports(stdout, key)}
	select {
	case <-p.Ready:
	case <-ctx.Done():
		p.Close()
		return nil, ctx.Err()
	}
	if p.Err != nil {
		p.Close()
		return nil, p.Err
	}
	return p, nil
}

// process is a child holding DHT nodes.
type process struct {
	*simulation.Reports
	cmd   *exec.Cmd
	stdin io.Closer
}

// Close ends the child: its nodes stop when its input closes.
func (p *process) Close() error {
	p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		return errors.Join(errors.New("a node process did not stop; killed"), <-done)
	}
}

// serveDHT is the child's side: `-serve-dht FIRST,COUNT BOOT,...`. It
// stops when its input closes.
func serveDHT(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: runrig-simulate -serve-dht FIRST,COUNT BOOT,...")
		return 2
	}
	fc := strings.Split(args[0], ",")
	first, err1 := strconv.Atoi(fc[0])
	count, err2 := strconv.Atoi(fc[len(fc)-1])
	if len(fc) != 2 || err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "runrig-simulate -serve-dht: want FIRST,COUNT")
		return 2
	}
	raiseFileLimit()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { io.Copy(io.Discard, os.Stdin); cancel() }()
	if err := simulation.ServeNodes(ctx, os.Stdout, first, count, strings.Split(args[1], ",")); err != nil {
		fmt.Fprintln(os.Stderr, "runrig-simulate -serve-dht:", err)
		return 1
	}
	return 0
}
