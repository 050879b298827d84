// Package execproto is the implementation side of credsim's exec protocol, version 1
// (docs/exec-protocol.md), for the shims that put an upstream Go package behind it. It only
// carries messages: initialize, credentials/get (several may be outstanding; each is answered on
// its own goroutine, in whatever order they finish), clock/set (refused with -32601: the
// upstream packages keep real time, so credsim marks the time-dependent properties
// not-applicable) and shutdown.
package execproto

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Request is a credentials/get's params.
type Request struct {
	Project    string `json:"project"`
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
	Artifact   string `json:"artifact"`
}

// Credential is an answer; nil means anonymous.
type Credential struct {
	Username  string `json:"username"`
	Password  string `json:"password"`
	ExpiresAt string `json:"expiresAt,omitempty"`
}

// Refusal is an error answer with the protocol's data.kind.
type Refusal struct {
	Kind    string
	Message string
}

func (r *Refusal) Error() string { return r.Message }

// Getter answers one request. It must be safe for concurrent use.
type Getter func(ctx context.Context, r Request) (*Credential, error)

type message struct {
	ID     *json.RawMessage `json:"id,omitempty"`
	Method string           `json:"method"`
	Params json.RawMessage  `json:"params"`
}

// Serve speaks the protocol on stdin and stdout until shutdown or end of input.
func Serve(name, version string, get Getter) error {
	return serve(os.Stdin, os.Stdout, name, version, get)
}

func serve(in io.Reader, out io.Writer, name, version string, get Getter) error {
	var mu sync.Mutex
	write := func(v any) {
		b, err := json.Marshal(v)
		if err != nil {
			b = []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"cannot encode the answer"}}`)
		}
		mu.Lock()
		defer mu.Unlock()
		_, _ = out.Write(append(b, '\n'))
	}
	var pending sync.WaitGroup
	scanner := bufio.NewScanner(in)
	scanner.Buffer(make([]byte, 1<<20), 16<<20)
	for scanner.Scan() {
		var m message
		if err := json.Unmarshal(scanner.Bytes(), &m); err != nil {
			write(map[string]any{"jsonrpc": "2.0", "id": nil, "error": map[string]any{"code": -32700, "message": "parse error"}})
			continue
		}
		switch m.Method {
		case "initialize":
			write(map[string]any{"jsonrpc": "2.0", "id": m.ID, "result": map[string]any{
				"protocolVersion": 1,
				"implementation":  map[string]string{"name": name, "version": version},
			}})
		case "credentials/get":
			var r Request
			if err := json.Unmarshal(m.Params, &r); err != nil {
				write(map[string]any{"jsonrpc": "2.0", "id": m.ID, "error": map[string]any{"code": -32602, "message": err.Error()}})
				continue
			}
			pending.Add(1)
			go func(id *json.RawMessage) {
				defer pending.Done()
				c, err := get(context.Background(), r)
				if err != nil {
					write(map[string]any{"jsonrpc": "2.0", "id": id, "error": map[string]any{
						"code": -32000, "message": err.Error(), "data": map[string]string{"kind": Kind(err)},
					}})
					return
				}
				if c == nil {
					write(map[string]any{"jsonrpc": "2.0", "id": id, "result": nil})
					return
				}
				write(map[string]any{"jsonrpc": "2.0", "id": id, "result": c})
			}(m.ID)
		case "clock/set":
			write(map[string]any{"jsonrpc": "2.0", "id": m.ID, "error": map[string]any{
				"code": -32601, "message": name + " keeps real time",
			}})
		case "shutdown":
			pending.Wait()
			return nil
		default:
			if m.ID != nil {
				write(map[string]any{"jsonrpc": "2.0", "id": m.ID, "error": map[string]any{"code": -32601, "message": "method not found"}})
			}
		}
	}
	pending.Wait()
	return scanner.Err()
}

// Kind translates an upstream error into the protocol's vocabulary, from what the error carries
// (a refusal's kind, or the HTTP status the cloud answered), never from its text: 429 and 5xx are
// unavailable, other 4xx denied; a transport failure (no response at all: a refused connection,
// a certificate not trusted) is unavailable; anything else is internal.
func Kind(err error) string {
	var ref *Refusal
	if errors.As(err, &ref) {
		return ref.Kind
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return "unavailable"
	}
	status := 0
	var re *azcore.ResponseError
	var af *azidentity.AuthenticationFailedError
	switch {
	case errors.As(err, &re):
		status = re.StatusCode
	case errors.As(err, &af) && af.RawResponse != nil:
		status = af.RawResponse.StatusCode
	}
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		return "unavailable"
	case status >= 400:
		return "denied"
	}
	return "internal"
}

// NotConfigured is a refusal of kind not-configured.
func NotConfigured(format string, a ...any) error {
	return &Refusal{Kind: "not-configured", Message: fmt.Sprintf(format, a...)}
}
