package events_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wakelink-go/wakelink/refserver/events"
	"github.com/wakelink-go/wakelink/restapi/console"
)

func Example() {
	ctx := context.Background()
	hub, err := events.New(events.Config{}) // one node, in-process
	if err != nil {
		fmt.Println(err)
		return
	}
	defer hub.Close()

	// The REST layer opens a stream for the caller (GET /api/v1/events).
	me := console.SubscribeOptions{Account: "usr_1", User: "usr_1"}
	sub, err := hub.Subscribe(ctx, me)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sub.Close()

	// After a commit, the console layer publishes.
	for _, acct := range []string{"usr_2", "usr_1"} { // usr_2's is not ours
		err := hub.Publish(ctx, console.Event{
			Type:    console.EventAgentOnline,
			Account: acct,
			Data:    json.RawMessage(`{"agent_id":"pi-` + acct + `"}`),
		})
		if err != nil {
			fmt.Println(err)
		}
	}
	ev := <-sub.C()
	fmt.Println(ev.Type, string(ev.Data))

	// The client reconnects with the last id it saw: nothing was missed.
	me.LastEventID = ev.ID
	again, _ := hub.Subscribe(ctx, me)
	defer again.Close()
	fmt.Println("resumed:", again.Resumed(), "replayed:", len(again.Replay()))

	// An id from before a restart (or another node) asks for a reset.
	me.LastEventID = "0190a3c4e5f6a1b2-42"
	old, _ := hub.Subscribe(ctx, me)
	defer old.Close()
	fmt.Println("reset:", old.Reset())
	// Output:
	// agent.online {"agent_id":"pi-usr_1"}
	// resumed: true replayed: 0
	// reset: restart
}
