package relay_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gorilla/websocket"

	"github.com/wakelink-go/wakelink/relay"
)

// exampleAuth accepts one client token and one device token of account
// "acct-1". A real Authenticator checks hashes in a store.
type exampleAuth struct{}

func (exampleAuth) Authenticate(_ context.Context, c relay.Credentials) (*relay.Principal, error) {
	switch {
	case c.ClientType == "client" && string(c.Token) == "wl_client-secret":
		return &relay.Principal{Account: "acct-1", Kind: relay.KindClient, CredentialIDs: []string{"tok_1"}}, nil
	case c.ClientType != "client" && string(c.Token) == "wld_device-secret":
		return &relay.Principal{Account: "acct-1", Kind: relay.KindAgent, AgentID: "pi", CredentialIDs: []string{"tok_2"}}, nil
	}
	return nil, relay.ErrInvalidToken
}

// Embedding the relay in an existing http.ServeMux: mount the Server at
// /wss next to the application's other routes.
func Example() {
	rs, err := relay.New(exampleAuth{}, relay.Config{Node: "node-1"})
	if err != nil {
		log.Fatal(err)
	}
	defer rs.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.Handle("/wss", rs)
	hs := httptest.NewServer(mux) // a loopback listener; production uses http.Server
	defer hs.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/wss"

	dial := func(auth map[string]any) *websocket.Conn {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			log.Fatal(err)
		}
		ws.WriteJSON(auth)
		var resp struct{ Status string }
		ws.ReadJSON(&resp)
		fmt.Println("auth:", resp.Status)
		return ws
	}
	agent := dial(map[string]any{"type": "auth", "api_token": "wld_device-secret", "client_type": "device", "agent_id": "pi"})
	defer agent.Close()
	client := dial(map[string]any{"type": "auth", "api_token": "wl_client-secret", "client_type": "client", "presence": false})
	defer client.Close()

	// The client sends an (end-to-end encrypted) packet to agent "pi".
	client.WriteJSON(map[string]string{"type": "relay", "agent_id": "pi", "mid": "1", "packet": "sealed-request"})
	var in struct{ Conn, MID, Packet string }
	agent.ReadJSON(&in)
	fmt.Printf("agent got %q (mid %s)\n", in.Packet, in.MID)

	// The agent answers the connection that wrote to it.
	agent.WriteJSON(map[string]string{"type": "relay", "conn": in.Conn, "mid": in.MID, "packet": "sealed-reply"})
	for {
		var f struct {
			Type, Status, Packet string
			AgentID              string `json:"agent_id"`
		}
		client.ReadJSON(&f)
		if f.Type == "ack" {
			fmt.Println("client ack:", f.Status)
			continue
		}
		fmt.Printf("client got %q from %s\n", f.Packet, f.AgentID)
		break
	}
	// Output:
	// auth: authenticated
	// auth: authenticated
	// agent got "sealed-request" (mid 1)
	// client ack: delivered
	// client got "sealed-reply" from pi
}
