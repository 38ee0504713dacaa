package protocol_test

import (
	"fmt"

	"github.com/chatd/chatd/protocol"
)

// A server loop: take every complete frame out of the buffered bytes,
// decode and validate the request, and append the reply to the output.
func ExampleDecode() {
	in, _ := protocol.AppendJSONFrame(nil, protocol.OpProfileGet, 7, &protocol.ProfileGetReq{UserID: 0})
	in = protocol.AppendFrame(in, 0x0099, 8, []byte(`{}`))

	var out []byte
	for {
		h, body, n, err := protocol.Decode(in, protocol.DefaultMaxFrameBody)
		if err != nil {
			fmt.Println("close the connection:", err)
			return
		}
		if n == 0 {
			break // incomplete: keep the bytes, read more
		}
		in = in[n:]
		req := protocol.NewRequest(h.Op)
		if req == nil || !h.Op.IsChatRequest() {
			out = protocol.AppendErrorFrame(out, h.Op, h.ReqID, protocol.UnsupportedOp(h.Op))
			continue
		}
		if err := protocol.DecodeRequest(body, req, nil); err != nil {
			out = protocol.AppendErrorFrame(out, h.Op, h.ReqID, protocol.AsError(err))
			continue
		}
	}
	for len(out) > 0 {
		h, body, n, _ := protocol.Decode(out, protocol.DefaultMaxFrameBody)
		fmt.Printf("%v #%d %s\n", h.Op, h.ReqID, body)
		out = out[n:]
	}
	// Output:
	// profile.get #7 {"code":"BAD_REQUEST","message":"user_id: must be a positive integer below 2^53"}
	// op(0x0099) #8 {"code":"UNSUPPORTED_OP","message":"unsupported op op(0x0099)"}
}

// A client reading a reply: DecodeReply returns the failure as an *Error.
func ExampleDecodeReply() {
	var resp protocol.MsgSendResp
	err := protocol.DecodeReply([]byte(`{"code":"FORBIDDEN","message":"not friends"}`), &resp)
	fmt.Println(protocol.CodeOf(err), err)
	// Output: FORBIDDEN FORBIDDEN: not friends
}

func ExampleParseConv() {
	c, err := protocol.ParseConv(protocol.PrivateConv(1002, 1001))
	fmt.Println(c, c.Peer(1001), err)
	_, err = protocol.ParseConv("p:1002:1001")
	fmt.Println(err)
	// Output:
	// p:1001:1002 1002 <nil>
	// BAD_REQUEST: conv: user ids must be in increasing order
}
