package files

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/chatd/chatd/protocol"
)

func FuzzVerifyToken(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	s, _ := NewSigner(testSecret, time.Hour, func() time.Time { return now })
	f.Add(s.Issue(PurposeUpload, 1, 2))
	f.Add(s.Issue(PurposeDownload, 1<<52, 3))
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.Verify(tok, PurposeUpload)
		if err != nil {
			return
		}
		// Only tokens this signer issued verify, and they re-encode to
		// themselves.
		if again := s.issueAt(c.Purpose, c.UserID, c.FileID, c.Expires); again != tok {
			t.Fatalf("verified token %q re-encodes as %q", tok, again)
		}
	})
}

// scriptConn is a net.Conn that reads a fixed input, then EOF, and records
// what is written: the fuzzer's stand-in for a client, without sockets.
type scriptConn struct {
	in     *bytes.Reader
	out    bytes.Buffer
	closed bool
}

func (c *scriptConn) Read(p []byte) (int, error)       { return c.in.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error)      { return c.out.Write(p) }
func (c *scriptConn) Close() error                     { c.closed = true; return nil }
func (c *scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzFilePortHandshake feeds arbitrary bytes to one file-port connection
// and checks that the server answers only with well-formed frames echoing
// the request's op, carrying known codes, and then closes.
func FuzzFilePortHandshake(f *testing.F) {
	now := time.Unix(1_700_000_000, 0)
	meta := newMemMeta()
	id := meta.add(1, []byte("abc"))
	s, err := New(Config{
		DataDir: f.TempDir(), Meta: meta, Secret: testSecret, CleanupInterval: -1,
		HandshakeTimeout: 50 * time.Millisecond, IOTimeout: 50 * time.Millisecond,
		Now: func() time.Time { return now },
	})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	up, _ := protocol.Marshal(&protocol.FileUploadReq{UploadToken: s.UploadToken(1, id)})
	down, _ := protocol.Marshal(&protocol.FileDownloadReq{DownloadToken: s.DownloadToken(1, id), Offset: 1})
	f.Add(append(protocol.AppendFrame(nil, protocol.OpFileUpload, 1, up), "abc"...))
	f.Add(protocol.AppendFrame(nil, protocol.OpFileDownload, 2, down))
	f.Add(protocol.AppendFrame(nil, protocol.OpFileUpload, 3, []byte(`{"upload_token":"x","offset":-1}`)))
	f.Add(protocol.AppendFrame(nil, protocol.OpPing, 4, []byte(`{}`)))
	f.Add([]byte{0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		c := &scriptConn{in: bytes.NewReader(in)}
		s.serveConn(&fconn{Conn: c}, make([]byte, 4096))
		if !c.closed {
			t.Fatal("connection not closed")
		}
		out := c.out.Bytes()
		var reqOp protocol.Op
		if h, _, n, err := protocol.Decode(in, maxHandshakeBody); err == nil && n > 0 {
			reqOp = h.Op
		}
		r := bytes.NewReader(out)
		for r.Len() > 0 {
			h, body, err := protocol.ReadFrame(r, protocol.DefaultMaxFrameBody, nil)
			if err != nil {
				if h.Op == protocol.OpFileDownload {
					break // raw file bytes follow the download reply
				}
				t.Fatalf("malformed reply in %q: %v", out, err)
			}
			if h.Op != reqOp {
				t.Fatalf("reply op %s to request op %s", h.Op, reqOp)
			}
			var st protocol.Status
			if err := protocol.Unmarshal(body, &st); err != nil || !st.Code.Known() {
				t.Fatalf("reply body %q: %v", body, err)
			}
			if h.Op == protocol.OpFileDownload && st.Code == protocol.CodeOK {
				break // the rest is file bytes
			}
		}
	})
}
