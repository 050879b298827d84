package execproto

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
)

func lines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var got []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		got = append(got, m)
	}
	return got
}

// Several outstanding requests are answered by id, in the order they finish; shutdown waits for
// them; clock/set is refused as method not found.
func TestConcurrentRequestsAreAnsweredByID(t *testing.T) {
	// The slow request is released only once the fast one's answer has been written, so the
	// slow answer can only come after it, and only if requests are served concurrently (served
	// one by one, the slow request would wait forever and the test would time out).
	release := make(chan struct{})
	get := func(ctx context.Context, r Request) (*Credential, error) {
		switch r.Project {
		case "slow":
			select {
			case <-release:
			case <-time.After(10 * time.Second):
				return nil, errors.New("never released")
			}
			return &Credential{Username: "u", Password: "p-slow"}, nil
		case "none":
			return nil, nil
		case "refused":
			return nil, NotConfigured("no identity for %s", r.Project)
		}
		return &Credential{Username: "u", Password: "p-" + r.Project}, nil
	}
	in := strings.Join([]string{
		`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersions":[1],"shard":"s"}}`,
		`{"jsonrpc":"2.0","id":1,"method":"credentials/get","params":{"project":"slow","registry":"r","repository":"x","artifact":"image"}}`,
		`{"jsonrpc":"2.0","id":2,"method":"credentials/get","params":{"project":"fast","registry":"r","repository":"x","artifact":"image"}}`,
		`{"jsonrpc":"2.0","id":3,"method":"credentials/get","params":{"project":"none","registry":"r","repository":"x","artifact":"image"}}`,
		`{"jsonrpc":"2.0","id":4,"method":"credentials/get","params":{"project":"refused","registry":"r","repository":"x","artifact":"image"}}`,
		`{"jsonrpc":"2.0","id":5,"method":"clock/set","params":{"now":"2026-11-29T21:00:00Z"}}`,
		`{"jsonrpc":"2.0","method":"shutdown"}`,
	}, "\n") + "\n"
	out := &releasingWriter{release: release, when: `"id":2,`}
	done := make(chan error)
	go func() { done <- serve(strings.NewReader(in), out, "t", "v", get) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return")
	}
	byID := map[string]map[string]any{}
	order := []string{}
	for _, m := range lines(t, out.buf.String()) {
		id := fmt.Sprint(m["id"])
		byID[id] = m
		order = append(order, id)
	}
	if len(byID) != 6 {
		t.Fatalf("want 6 answers, got %v", out.buf.String())
	}
	if v := byID["0"]["result"].(map[string]any)["protocolVersion"]; v != 1.0 {
		t.Fatalf("initialize: %v", byID["0"])
	}
	if p := byID["1"]["result"].(map[string]any)["password"]; p != "p-slow" {
		t.Fatalf("id 1: %v", byID["1"])
	}
	if p := byID["2"]["result"].(map[string]any)["password"]; p != "p-fast" {
		t.Fatalf("id 2: %v", byID["2"])
	}
	if r, ok := byID["3"]["result"]; !ok || r != nil {
		t.Fatalf("id 3 must be result null: %v", byID["3"])
	}
	kind := byID["4"]["error"].(map[string]any)["data"].(map[string]any)["kind"]
	if kind != "not-configured" {
		t.Fatalf("id 4: %v", byID["4"])
	}
	if c := byID["5"]["error"].(map[string]any)["code"]; c != -32601.0 {
		t.Fatalf("clock/set: %v", byID["5"])
	}
	// The slow request was answered after the fast one that released it.
	pos := func(id string) int {
		for i, o := range order {
			if o == id {
				return i
			}
		}
		return -1
	}
	if pos("1") < pos("2") {
		t.Fatalf("answers must come as they finish: %v", order)
	}
}

// releasingWriter closes release once a written line contains when. serve writes each answer
// with one Write call under its own lock.
type releasingWriter struct {
	buf     bytes.Buffer
	release chan struct{}
	when    string
	once    sync.Once
}

func (w *releasingWriter) Write(p []byte) (int, error) {
	n, err := w.buf.Write(p)
	if bytes.Contains(p, []byte(w.when)) {
		w.once.Do(func() { close(w.release) })
	}
	return n, err
}

// Kinds come from the HTTP status an error carries, never from its text.
func TestKindsComeFromTheStatus(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&azcore.ResponseError{StatusCode: http.StatusUnauthorized}, "denied"},
		{fmt.Errorf("wrapped: %w", &azcore.ResponseError{StatusCode: http.StatusBadRequest}), "denied"},
		{&azcore.ResponseError{StatusCode: http.StatusTooManyRequests}, "unavailable"},
		{&azcore.ResponseError{StatusCode: http.StatusBadGateway}, "unavailable"},
		{errors.New("401 unauthorized, denied"), "internal"},
		{fmt.Errorf("get token: %w", &url.Error{Op: "Post", URL: "https://x", Err: errors.New("x509: unknown authority")}), "unavailable"},
		{&Refusal{Kind: "unsupported", Message: "x"}, "unsupported"},
	} {
		if got := Kind(c.err); got != c.want {
			t.Errorf("Kind(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}
