package chatload

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/chatd/chatd/protocol"
)

// A raw receiver is a logged-in bare connection whose pushes are scanned
// for the few fields the accounting needs instead of being fully decoded:
// decoding every push through the SDK costs the load generator more CPU
// than the server spends sending it, and both share the machine.

// rawReceive reads conn in chunks until it fails and hands message pushes
// to the sink as receiver r. A chunk's deliveries are recorded together
// (rawBatch): one clock reading when the chunk arrived, one histogram lock
// and one counter add per chunk instead of per frame. The ledger still
// sees every delivery one by one.
func (k *sink) rawReceive(conn *rawConn, r int32, self *atomic.Int64) {
	conn.receiveChunks(k.rawFrames(r, self))
}

// rawFrames returns receiver r's frame and end-of-chunk callbacks, for a
// reader goroutine (rawReceive) or an event loop (recvLoops) to call.
func (k *sink) rawFrames(r int32, self *atomic.Int64) (frame func(now time.Time, op protocol.Op, body []byte), chunkDone func()) {
	b := new(rawBatch)
	return func(now time.Time, op protocol.Op, body []byte) {
			if op == protocol.OpMsgPush {
				b.now = now
				k.takeRawBatched(r, self, body, b)
			}
		}, func() {
			k.flushBatch(b)
		}
}

// rawBatch holds one chunk's deliveries until the chunk is done.
type rawBatch struct {
	now  time.Time
	lat  []time.Duration // push latency of each new delivery
	redl int64           // redelivered (conv, seq) pairs
	own  int64           // own messages skipped
}

// takeRawBatched is takeRaw for a scannable push, recorded into b; pushes
// the scanner cannot read fall back to takeRaw.
func (k *sink) takeRawBatched(r int32, self *atomic.Int64, body []byte, b *rawBatch) {
	f, ok := scanPushFields(body)
	if !ok {
		k.takeRaw(r, self, body)
		return
	}
	if k.ignoreOwn && f.from == self.Load() {
		b.own++
		return
	}
	if !k.seen[r].markBytes(f.conv, f.seq) {
		b.redl++
		return
	}
	n, sent, ok := parseBodyBytes(f.body)
	if !ok {
		k.run.Add("foreign", 1)
		return
	}
	if !k.led.Delivered(r, n) {
		return
	}
	b.lat = append(b.lat, b.now.Sub(sent))
}

// flushBatch records b's deliveries and empties it.
func (k *sink) flushBatch(b *rawBatch) {
	if len(b.lat) > 0 {
		k.run.Add("delivered", int64(len(b.lat)))
		k.run.ObserveAll("push", b.lat)
		b.lat = b.lat[:0]
	}
	if b.redl > 0 {
		k.run.Add("redelivered", b.redl)
		b.redl = 0
	}
	if b.own > 0 {
		k.run.Add("own_echo", b.own)
		b.own = 0
	}
}

// takeRaw is take for an undecoded msg push body.
func (k *sink) takeRaw(r int32, self *atomic.Int64, body []byte) bool {
	m, ok := scanMsgPush(body)
	if !ok {
		var p protocol.MsgPush
		if protocol.Unmarshal(body, &p) != nil {
			k.run.Add("foreign", 1)
			return false
		}
		m = p.Message
	}
	return k.takeMsg(r, self, &m)
}

// scanMsgPush pulls conv, seq, from and body out of a msg push body by
// looking for their keys; ok is false when any is missing or holds an
// escape, and the caller then decodes the JSON properly.
func scanMsgPush(b []byte) (protocol.Message, bool) {
	f, ok := scanPushFields(b)
	if !ok {
		return protocol.Message{}, false
	}
	return protocol.Message{Conv: string(f.conv), Body: string(f.body), Seq: f.seq, From: f.from}, true
}

// pushFields are scanMsgPush's fields, the strings still in the frame.
type pushFields struct {
	conv, body []byte
	seq, from  int64
}

// scanPushFields is scanMsgPush without a copy of conv and body.
func scanPushFields(b []byte) (f pushFields, ok bool) {
	if f.conv, ok = scanString(b, `"conv":"`); !ok {
		return f, false
	}
	if f.body, ok = scanString(b, `"body":"`); !ok {
		return f, false
	}
	if f.seq, ok = scanInt(b, `"seq":`); !ok {
		return f, false
	}
	if f.from, ok = scanInt(b, `"from":`); !ok {
		return f, false
	}
	return f, true
}

// A key pattern such as "seq": cannot occur inside a JSON string (its
// quotes would be escaped) and a string value is never followed by a
// colon, so the first match is the key.

// findKey returns the index just past key in b, or -1. It searches
// without the key's leading quote (JSON is full of quotes, which makes a
// search that starts on one slow) and checks the quote afterwards.
func findKey(b []byte, key string) int {
	tail := []byte(key[1:])
	for off := 0; ; {
		i := bytes.Index(b[off:], tail)
		if i < 0 {
			return -1
		}
		i += off
		if i > 0 && b[i-1] == '"' {
			return i + len(tail)
		}
		off = i + 1
	}
}

func scanString(b []byte, key string) ([]byte, bool) {
	i := findKey(b, key)
	if i < 0 {
		return nil, false
	}
	rest := b[i:]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return nil, false
	}
	return rest[:j:j], true
}

func scanInt(b []byte, key string) (int64, bool) {
	i := findKey(b, key)
	if i < 0 {
		return 0, false
	}
	rest := b[i:]
	j := 0
	for j < len(rest) && (rest[j] >= '0' && rest[j] <= '9' || j == 0 && rest[j] == '-') {
		j++
	}
	v, err := strconv.ParseInt(string(rest[:j]), 10, 64)
	if err != nil || j == len(rest) || (rest[j] != ',' && rest[j] != '}' && rest[j] != ' ') {
		return 0, false
	}
	return v, true
}

// rawKeepalive pings the raw connections every interval until stop closes,
// so the server's idle timeout does not close receivers that only listen.
func rawKeepalive(conns []*rawConn, every time.Duration, stop <-chan struct{}) {
	tickUntil(every, stop, func() {
		for _, c := range conns {
			if c != nil {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = c.Write(pingFrame)
			}
		}
	})
}

// tickUntil calls f every interval until stop closes.
func tickUntil(every time.Duration, stop <-chan struct{}, f func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			f()
		}
	}
}
