package ewsp_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"log"

	"github.com/wakelink-go/wakelink/ewsp"
)

// fixedRandom replays recorded random bytes so that the output below is
// reproducible. Real code leaves Config.Rand nil (crypto/rand).
func fixedRandom(hexBytes ...string) *bytes.Reader {
	var b []byte
	for _, h := range hexBytes {
		d, err := hex.DecodeString(h)
		if err != nil {
			panic(err)
		}
		b = append(b, d...)
	}
	return bytes.NewReader(b)
}

// A client seals a ping for a device; the device opens it and answers on its
// own tx chain; the client opens the reply. With the random bytes of the
// vectors' chain_cmd_1 case, the request is the C reference's packet byte
// for byte.
func Example() {
	token := []byte("wl-main-vector-token-0123456789abcdef-XYZ") // the agent token, never the wld_ token
	client, err := ewsp.NewChain(token, "WL35080814", ewsp.RoleClient, ewsp.Config{
		Rand: fixedRandom("174552889cd7e71b", "69d204922fb8ac3b811284c377dd7b77c1e5f92e29289836"),
	})
	if err != nil {
		log.Fatal(err)
	}
	device, err := ewsp.NewChain(token, "WL35080814", ewsp.RoleDevice, ewsp.Config{})
	if err != nil {
		log.Fatal(err)
	}

	packet, rid, err := client.SealRequest(nil, ewsp.CmdPing, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", packet)

	msg, err := device.Open(nil, packet) // persist device.State() before acting
	if err != nil {
		log.Fatal(err) // the error's detail is for local logs only
	}
	fmt.Println(msg.Command, msg.RequestID == rid, msg.Seq)

	reply, err := device.Seal(nil, ewsp.AppendPong(nil, msg.RequestID))
	if err != nil {
		log.Fatal(err)
	}
	back, err := client.Open(nil, reply)
	if err != nil {
		log.Fatal(err)
	}
	r := ewsp.ParseReply(back.Inner)
	fmt.Printf("ok=%t rid=%s d=%s\n", r.OK, r.RequestID, r.Data)
	// Output:
	// {"v":"1.0","id":"WL35080814","seq":1,"prev":"0000000000000000000000000000000000000000000000000000000000000000","p":"002613dcea08d552aaf9f0f7f0f89a24368551f2b7858acbd38dbc76f39369c5c4fe3bc9439de35b69d204922fb8ac3b811284c377dd7b77c1e5f92e29289836","sig":"d79964a48f843d269c80d599237e0fc4725e2e409a215f7bd5da08a8b7d44ef0"}
	// ping true 1
	// ok=true rid=X7K2M9P1 d={"pong":true}
}

// Building a wake command from a MAC address a user typed: the client-side
// parser accepts common notations, the request carries the EWSP form. With
// the chain state and random bytes of the vectors' chain_cmd_2 case, the
// packet is the C reference's byte for byte.
func ExampleWakeRequest() {
	mac, err := ewsp.ParseMACLenient(" aa-bb-cc-dd-ee-ff ")
	if err != nil {
		log.Fatal(err)
	}
	data, err := ewsp.WakeRequest{MAC: mac.String()}.AppendJSON(nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", data)

	token := []byte("wl-main-vector-token-0123456789abcdef-XYZ")
	client, err := ewsp.NewChain(token, "WL35080814", ewsp.RoleClient, ewsp.Config{
		Rand: fixedRandom("10425e8e94d0e920", "2d8bd18fefbcd20bb9389419a483ae17dfa012df9a48e90f"),
	})
	if err != nil {
		log.Fatal(err)
	}
	last, _ := ewsp.ParseHash("3002937ef6aeb87a0c24ad7c6b72e47a3537ff8148dfd46b89b9d58712e81d6c")
	client.SetState(ewsp.State{TxSeq: 1, TxLastHash: last}) // as persisted after the previous packet
	packet, rid, err := client.SealRequest(nil, ewsp.CmdWake, data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rid)
	fmt.Printf("%s\n", packet)
	// Output:
	// {"mac":"AA:BB:CC:DD:EE:FF"}
	// Q4W8E2R6
	// {"v":"1.0","id":"WL35080814","seq":2,"prev":"3002937ef6aeb87a0c24ad7c6b72e47a3537ff8148dfd46b89b9d58712e81d6c","p":"003f6cd8f0af4029957bc9d18b9a45dad814e495c2ef8df5acb44ef5ee9f6b5f7a2b584c1753a2a261a69ceb1883f5a87cc80148c1c2a6c3157d9763977a604fb42d8bd18fefbcd20bb9389419a483ae17dfa012df9a48e90f","sig":"8dac6c483cf831fec953c81d09286d4b807e5f8b1b3e654b78266779bd197c28"}
}

// A device reads the wake request out of an opened packet and builds the
// reply bytes.
func ExampleParseWakeRequest() {
	req, err := ewsp.ParseRequest([]byte(`{"cmd":"wake","d":{"mac":"aa:bb:cc:dd:ee:ff","port":7},"rid":"Q4W8E2R6"}`))
	if err != nil {
		log.Fatal(err)
	}
	w, err := ewsp.ParseWakeRequest(req.Data)
	if err != nil {
		fmt.Printf("%s\n", ewsp.AppendErrorReply(nil, ewsp.CodeInvalidParams, "", req.RequestID))
		return
	}
	mac, _ := ewsp.ParseMAC(w.MAC)
	fmt.Println(mac, w.Port, w.Repeat)
	reply, _ := ewsp.AppendReply(nil, "ok", ewsp.WakeReply{Sent: true, Target: mac.String()}.AppendJSON(nil), req.RequestID)
	fmt.Printf("%s\n", reply)
	// Output:
	// AA:BB:CC:DD:EE:FF 7 1
	// {"status":"ok","d":{"sent":true,"target":"AA:BB:CC:DD:EE:FF"},"rid":"Q4W8E2R6"}
}
