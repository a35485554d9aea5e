package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ProgressType is the media type a client asks for (Accept) to hear how
// long work goes: the answer is then a stream of Event lines, progress
// while the work runs and its result or error last.
const ProgressType = "application/x-ndjson"

// maxStream bounds a streamed answer (progress lines and the result).
const maxStream = 64 << 20

// Progress is how far long work is: Done of Total items of Step
// ("checking", "writing", "publishing"), in Unit ("rows", "items").
// Total is 0 while it is not known.
type Progress struct {
	Step  string `json:"step"`
	Done  int    `json:"done"`
	Total int    `json:"total"`
	Unit  string `json:"unit,omitempty"`
}

// Event is one line of a streamed answer: exactly one field is set.
type Event struct {
	Progress *Progress       `json:"progress,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// doProgress is do for long work: with onProgress set it asks for a
// stream and calls onProgress for each progress line; without, it is do.
func (c *Client) doProgress(ctx context.Context, method, path string, in, out any, onProgress func(Progress)) error {
	if onProgress == nil {
		return c.do(ctx, method, path, in, out)
	}
	req, err := c.request(ctx, method, path, in)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", ProgressType)
	// Long work streams for as long as it runs: ctx bounds it, not the
	// client's timeout for one answer.
	hc := *c.hc
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 || resp.Header.Get("Content-Type") != ProgressType {
		return answerOf(resp, out)
	}
	return readEvents(io.LimitReader(resp.Body, maxStream), out, onProgress)
}

// answerOf reads a plain (not streamed) answer into out.
func answerOf(resp *http.Response, out any) error {
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxStream))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e Error
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("admin API: %s", resp.Status)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// readEvents reads a stream of events until its result or error.
func readEvents(r io.Reader, out any, onProgress func(Progress)) error {
	dec := json.NewDecoder(r)
	for {
		var ev Event
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("admin API: the relay ended the answer without a result")
			}
			return fmt.Errorf("admin API: %w", err)
		}
		switch {
		case ev.Error != "":
			return errors.New(ev.Error)
		case ev.Result != nil:
			if out == nil {
				return nil
			}
			return json.Unmarshal(ev.Result, out)
		case ev.Progress != nil:
			onProgress(*ev.Progress)
		}
	}
}
