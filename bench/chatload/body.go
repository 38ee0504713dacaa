package chatload

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// bodyPrefix marks a chatbench message body: "cb <number> <unix ns> <pad>".
const bodyPrefix = "cb "

// errNotBench is returned for bodies chatbench did not write.
var errNotBench = errors.New("bench: not a chatbench body")

// makeBody encodes a message number and the send time, padded with 'x' to
// size bytes (never shorter than the header).
func makeBody(n uint64, sent time.Time, size int) string {
	var b strings.Builder
	b.Grow(size + 40)
	b.WriteString(bodyPrefix)
	b.WriteString(strconv.FormatUint(n, 10))
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(sent.UnixNano(), 10))
	if b.Len() < size {
		b.WriteByte(' ')
		for b.Len() < size {
			b.WriteByte('x')
		}
	}
	return b.String()
}

// parseBody decodes what makeBody wrote.
func parseBody(s string) (n uint64, sent time.Time, err error) {
	rest, ok := strings.CutPrefix(s, bodyPrefix)
	if !ok {
		return 0, time.Time{}, errNotBench
	}
	num, rest, ok := strings.Cut(rest, " ")
	if !ok {
		return 0, time.Time{}, errNotBench
	}
	ts, _, _ := strings.Cut(rest, " ")
	n, err = strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, time.Time{}, errNotBench
	}
	ns, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ns <= 0 {
		return 0, time.Time{}, errNotBench
	}
	return n, time.Unix(0, ns), nil
}

// parseBodyBytes is parseBody for the bytes of a body still in its frame,
// without a copy; ok is false for a body chatbench did not write.
func parseBodyBytes(b []byte) (n uint64, sent time.Time, ok bool) {
	rest, ok := bytes.CutPrefix(b, []byte(bodyPrefix))
	if !ok {
		return 0, time.Time{}, false
	}
	num, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return 0, time.Time{}, false
	}
	ts, _, _ := bytes.Cut(rest, []byte{' '})
	n, ok = parseDigits(num)
	if !ok {
		return 0, time.Time{}, false
	}
	ns, ok := parseDigits(ts)
	if !ok || ns == 0 || ns > math.MaxInt64 {
		return 0, time.Time{}, false
	}
	return n, time.Unix(0, int64(ns)), true
}

// parseDigits parses a non-empty run of decimal digits that fits a uint64.
func parseDigits(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 { // 19 digits always fit
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// mediaHeader is the size of the binary media payload header: number and
// send time, both uint64 big-endian.
const mediaHeader = 16

// makeMedia encodes a media payload of size bytes (at least mediaHeader).
func makeMedia(n uint64, sent time.Time, size int) []byte {
	p := make([]byte, max(size, mediaHeader))
	binary.BigEndian.PutUint64(p, n)
	binary.BigEndian.PutUint64(p[8:], uint64(sent.UnixNano()))
	return p
}

// parseMedia decodes what makeMedia wrote.
func parseMedia(p []byte) (n uint64, sent time.Time, err error) {
	if len(p) < mediaHeader {
		return 0, time.Time{}, errNotBench
	}
	ns := int64(binary.BigEndian.Uint64(p[8:]))
	if ns <= 0 {
		return 0, time.Time{}, errNotBench
	}
	return binary.BigEndian.Uint64(p), time.Unix(0, ns), nil
}
