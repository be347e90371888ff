package ewsp

// Vector tests for json_codec.json (the canonical writer and the reference
// reader) and messages.json (commands, inner builders, reply parser, MAC
// helpers), per EWSP.md §1.16.

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestVectorJSONCodec checks json_codec.json: the canonical writer and the
// reference reader.
func TestVectorJSONCodec(t *testing.T) {
	forEachCase(t, "json_codec.json", func(t *testing.T, c vcase) {
		switch {
		case c.has("value"):
			v, _ := c.u64(t, "value")
			c.wantText(t, "output", appendUint(nil, v))
		case c.has("input_bytes_hex"):
			in := c.mustBin(t, "input_bytes_hex")
			c.wantText(t, "output", appendJSONString(nil, in))
		case c.has("json") || c.has("json_hex"):
			in := cString(c.mustText(t, "json"))
			key, _ := c.str(t, "key")
			c.wantBool(t, "has_key", refFind(in, key) >= 0)
			s, code := refString(nil, in, key, len(in)+1)
			if c.wantCode(t, "get_string_result", code) && code == CodeOK {
				c.wantText(t, "get_string_value", s)
			}
			u, code := refUint(in, key)
			if c.wantCode(t, "get_uint_result", code) && code == CodeOK {
				c.wantU64(t, "get_uint_value", u)
			}
			o, code := refRaw(in, key)
			if c.wantCode(t, "get_object_result", code) && code == CodeOK {
				c.wantText(t, "get_object_value", o)
			}
		default:
			t.Fatal("case matches no json_codec shape of §1.16")
		}
	})
}

// TestVectorMessages checks messages.json: the command table, the request
// builder, the reply builders, the reply parser and the MAC helpers.
func TestVectorMessages(t *testing.T) {
	forEachCase(t, "messages.json", func(t *testing.T, c vcase) {
		switch {
		case c.has("type_enum"):
			cmd := Command(c.mustText(t, "command"))
			typ, _ := c.u64(t, "type_enum")
			if uint64(cmd.Type()) != typ {
				t.Errorf("Type(%q) = %d, want %d", cmd, cmd.Type(), typ)
			}
			c.wantU64(t, "lookup_type", uint64(cmd.Type()))
			c.wantBool(t, "requires_data", cmd.RequiresData())
			data, _ := c.text(t, "data_argument") // null or empty = none
			rid, _ := c.str(t, "rid")
			inner, err := AppendRequest(nil, cmd, data, rid)
			c.wantCode(t, "result", codeOf(err))
			if err == nil {
				c.wantText(t, "inner_json", inner)
			}
		case c.has("success"):
			checkReplyParse(t, c, c.mustText(t, "json"))
		case c.has("valid"):
			mac, _ := c.str(t, "mac")
			m, err := ParseMAC(mac)
			c.wantBool(t, "valid", err == nil)
			norm, nerr := NormalizeMAC(mac)
			c.wantCode(t, "normalize_result", codeOf(nerr))
			if nerr == nil {
				c.wantText(t, "normalized", []byte(norm))
			}
			c.wantCode(t, "to_bytes_result", codeOf(err))
			if err == nil {
				c.wantBin(t, "bytes", m[:])
			}
		case c.has("lookups") || hasPrefixKey(c, "lookup_"):
			list, _ := c["lookups"].([]any)
			for _, e := range list {
				entry := vcase(e.(map[string]any))
				name, _ := entry.str(t, "name")
				if want, ok := entry.u64(t, "type"); ok && uint64(Command(name).Type()) != want {
					t.Errorf("Type(%q) = %d, want %d", name, Command(name).Type(), want)
				}
			}
		case c.has("json") || c.has("json_hex"):
			checkReplyBuilder(t, c)
		default:
			t.Fatal("case matches no messages shape of §1.16")
		}
	})
}

func hasPrefixKey(c vcase, prefix string) bool {
	for k := range c {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// checkReplyParse asserts the reply parser on inner against the fields of c.
func checkReplyParse(t *testing.T, c vcase, inner []byte) {
	t.Helper()
	r := ParseReply(inner)
	c.wantBool(t, "success", r.OK)
	c.wantCode(t, "error_code", r.Code)
	c.wantText(t, "error_message", []byte(r.Message))
	c.wantText(t, "rid", []byte(r.RequestID))
	c.wantBool(t, "has_data", r.Data != nil)
	if r.Data != nil {
		c.wantText(t, "data", r.Data)
	}
}

// checkReplyBuilder rebuilds a reply from its recorded fields (each read from
// json with the standard decoder when not recorded) and compares the bytes.
func checkReplyBuilder(t *testing.T, c vcase) {
	t.Helper()
	want := c.mustText(t, "json")
	var fromJSON map[string]json.RawMessage
	if err := decodeJSON(want, &fromJSON); err != nil {
		t.Fatalf("json: %v", err)
	}
	// field returns the recorded value of k, else the one in json; null is absent.
	field := func(k string) (any, bool) {
		if v, ok := c[k]; ok {
			return v, v != nil
		}
		raw, ok := fromJSON[k]
		if !ok || string(raw) == "null" {
			return nil, false
		}
		if k == "d" {
			return string(raw), true
		}
		var v any
		if err := decodeJSON(raw, &v); err != nil {
			t.Fatalf("json field %s: %v", k, err)
		}
		return v, true
	}
	strField := func(k string) string {
		v, ok := field(k)
		if !ok {
			return ""
		}
		s, ok := v.(string)
		if !ok {
			t.Fatalf("field %s is %T, want a string", k, v)
		}
		return s
	}
	rid := strField("rid")
	var got []byte
	if errVal, ok := field("error"); ok {
		var code Code
		switch e := errVal.(type) {
		case json.Number:
			n, err := e.Int64()
			if err != nil {
				t.Fatal(err)
			}
			code = Code(n)
		case string:
			code = CodeFromName(e)
		default:
			t.Fatalf("error is %T", errVal)
		}
		got = AppendErrorReply(nil, code, strField("detail"), rid)
		if parsed, ok := c.obj("parsed"); ok {
			checkReplyParse(t, parsed, want)
		}
	} else if _, ok := fromJSON["device_id"]; ok {
		var info Info
		if err := decodeJSON(want, &info); err != nil {
			t.Fatalf("info: %v", err)
		}
		got = AppendInfoReply(nil, &info, rid)
	} else {
		var data any
		if c.has("data") {
			data, _ = field("data")
		} else {
			data, _ = field("d")
		}
		var d []byte
		if s, ok := data.(string); ok {
			d = []byte(s)
		}
		var err error
		got, err = AppendReply(nil, strField("status"), d, rid)
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Errorf("builder:\n got %s\nwant %s", got, want)
	}
}
