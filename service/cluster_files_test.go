package service

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/chatd/chatd/cluster/clustertest"
	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/service/files"
	"github.com/chatd/chatd/store"
	"github.com/chatd/chatd/store/mysqltest"
)

// fileNode is a cluster node with its file port on ":0" (no host: other
// nodes announce it with its address as the bus sees it).
type fileNode struct {
	*clusterEnv
	fs   *FileService
	stop func(kill bool) // ends the node, once: kill drops the bus first, as kill -9 would
}

// newFileCluster starts nodes sharing one database and one bus, all with
// the same file token secret; dataDir, when not "", is every node's data
// directory (a shared files directory), else each node has its own.
func newFileCluster(t *testing.T, url, dataDir string, ids ...string) []*fileNode {
	t.Helper()
	mysqltest.Require(t)
	dsn := mysqltest.DSN(t, "clf")
	name := clustertest.Name(t, url)
	secret := []byte("a file secret every node shares")
	var out []*fileNode
	for _, id := range ids {
		node := joinBus(t, url, name, id, time.Second)
		tweak := func(c *Config) { c.Cluster = node }
		e := &env{t: t, scfg: store.Config{Driver: "mysql", DSN: dsn}, tweaks: []func(*Config){tweak}}
		st, srv, cfg, fs := startFileServer(t, e.scfg, files.Config{DataDir: dataDir, Secret: secret}, tweak)
		e.st, e.srv, e.cfg = st, srv, cfg
		var once sync.Once
		stop := func(kill bool) {
			once.Do(func() {
				if kill {
					node.Abandon()
				}
				shutdownFiles(t, fs)
				e.close()
				node.Close()
			})
		}
		t.Cleanup(func() { stop(false) })
		out = append(out, &fileNode{clusterEnv: &clusterEnv{env: e, node: node}, fs: fs, stop: stop})
	}
	return out
}

// port returns the port of a host:port address.
func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return p
}

// A file uploaded through node a is fetched through node b: b's
// file.fetch names a's file port, file.offered and file.ready cross the
// bus, and the receiver downloads the same bytes. Once a is gone (killed:
// no goodbye), b answers UNAVAILABLE instead of naming it.
func TestClusterFileAcrossNodes(t *testing.T) {
	ns := newFileCluster(t, clustertest.URL(t), "", "a", "b")
	a, b := ns[0], ns[1]
	ua, _ := clusterUser(a.clusterEnv, "fa", "")
	ub, _ := clusterUser(b.clusterEnv, "fb", "")
	seesOnline(t, []*clusterEnv{a.clusterEnv, b.clusterEnv}, ua.userID, ub.userID)
	befriend(t, ua, ub)

	data, sum := randomFile(16, 1<<20+7)
	var offer protocol.FileOfferResp
	ua.must(protocol.CodeOK, protocol.OpFileOffer, &protocol.FileOfferReq{ToUser: ub.userID, Name: "across.bin", Size: int64(len(data)), Sha256: sum}, &offer)
	if port(t, offer.FileAddr) != port(t, a.fs.Addr().String()) {
		t.Fatalf("offer on a names %s, not a's file port %s", offer.FileAddr, a.fs.Addr())
	}
	uploadOffer(t, &offer, data)

	// The receiver on b learns of it through the bus, the sender gets
	// file.ready.
	got := collect(t, ub, protocol.OpMsgPush, protocol.OpFileOffered)
	var fo protocol.FileOfferedPush
	decodePush(t, got[protocol.OpFileOffered], &fo)
	if fo.FileID != offer.FileID || fo.Sha256 != sum {
		t.Fatalf("file.offered on b: %+v", fo)
	}
	var ready protocol.FileReadyPush
	ua.waitFor(protocol.OpFileReady, &ready)
	if ready.FileID != offer.FileID {
		t.Fatalf("file.ready %+v", ready)
	}

	// b does not have the bytes: its fetch names a's file port.
	var fr protocol.FileFetchResp
	ub.must(protocol.CodeOK, protocol.OpFileFetch, &protocol.FileFetchReq{FileID: offer.FileID}, &fr)
	if port(t, fr.FileAddr) != port(t, a.fs.Addr().String()) {
		t.Fatalf("fetch on b names %s, not a's file port %s", fr.FileAddr, a.fs.Addr())
	}
	if got := fetchAndDownload(t, ub, offer.FileID); !bytes.Equal(got, data) {
		t.Fatal("the receiver on b downloaded different bytes")
	}

	// a dies without a goodbye: once b knows, it answers UNAVAILABLE
	// rather than send the client to a dead node.
	a.stop(true)
	eventually(t, "b's fetch answers UNAVAILABLE", func() bool {
		_, ch := ub.send(protocol.OpFileFetch, &protocol.FileFetchReq{FileID: offer.FileID})
		return ub.decode(ub.wait(protocol.OpFileFetch, ch), nil) == protocol.CodeUnavailable
	})
}

// With a files directory every node shares, any node serves any complete
// file itself: b names its own file port, even after a is gone.
func TestClusterFileSharedDirectory(t *testing.T) {
	ns := newFileCluster(t, clustertest.URL(t), t.TempDir(), "a", "b")
	a, b := ns[0], ns[1]
	ua, _ := clusterUser(a.clusterEnv, "sa", "")
	ub, _ := clusterUser(b.clusterEnv, "sb", "")
	seesOnline(t, []*clusterEnv{a.clusterEnv, b.clusterEnv}, ua.userID, ub.userID)
	befriend(t, ua, ub)

	data, sum := randomFile(17, 300<<10)
	var offer protocol.FileOfferResp
	ua.must(protocol.CodeOK, protocol.OpFileOffer, &protocol.FileOfferReq{ToUser: ub.userID, Name: "shared.bin", Size: int64(len(data)), Sha256: sum}, &offer)
	uploadOffer(t, &offer, data)
	ub.waitFor(protocol.OpFileOffered, nil)

	a.stop(false)
	var fr protocol.FileFetchResp
	ub.must(protocol.CodeOK, protocol.OpFileFetch, &protocol.FileFetchReq{FileID: offer.FileID}, &fr)
	if port(t, fr.FileAddr) != port(t, b.fs.Addr().String()) {
		t.Fatalf("fetch on b names %s, not its own file port %s", fr.FileAddr, b.fs.Addr())
	}
	if got := fetchAndDownload(t, ub, offer.FileID); !bytes.Equal(got, data) {
		t.Fatal("downloaded different bytes")
	}
}

// A browser downloads through the web port of the node that served its
// page: b passes a download of a file a holds through to a's web port, and
// answers 503 once a is gone.
func TestClusterFileDownloadThroughOtherNodesWebPort(t *testing.T) {
	ns := newFileCluster(t, clustertest.URL(t), "", "a", "b")
	a, b := ns[0], ns[1]
	var webs []*httptest.Server
	for _, n := range ns {
		w := httptest.NewServer(http.StripPrefix("/files", n.fs.HTTPHandler()))
		t.Cleanup(w.Close)
		n.fs.AnnounceWeb(w.Listener.Addr(), false)
		webs = append(webs, w)
	}
	ua, _ := clusterUser(a.clusterEnv, "wa", "")
	ub, _ := clusterUser(b.clusterEnv, "wb", "")
	seesOnline(t, []*clusterEnv{a.clusterEnv, b.clusterEnv}, ua.userID, ub.userID)
	befriend(t, ua, ub)
	data, sum := randomFile(18, 200<<10+3)
	var offer protocol.FileOfferResp
	ua.must(protocol.CodeOK, protocol.OpFileOffer, &protocol.FileOfferReq{ToUser: ub.userID, Name: "web.bin", Size: int64(len(data)), Sha256: sum}, &offer)
	uploadOffer(t, &offer, data)
	var ready protocol.FileReadyPush
	ua.waitFor(protocol.OpFileReady, &ready)

	var fr protocol.FileFetchResp
	ub.must(protocol.CodeOK, protocol.OpFileFetch, &protocol.FileFetchReq{FileID: offer.FileID}, &fr)
	get := func() (int, []byte) {
		resp, err := http.Get(fmt.Sprintf("%s/files/%d?token=%s", webs[1].URL, offer.FileID, fr.DownloadToken))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	if code, body := get(); code != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("GET through b: %d, %d bytes (want %d)", code, len(body), len(data))
	}
	// The holder checks the token: a wrong one is refused through b too.
	resp, err := http.Get(fmt.Sprintf("%s/files/%d?token=nope", webs[1].URL, offer.FileID))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("a bad token was served through b")
	}

	a.stop(true)
	eventually(t, "b answers 503 for a's file", func() bool { code, _ := get(); return code == http.StatusServiceUnavailable })
}
