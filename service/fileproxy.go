package service

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
)

// HTTP file transfers in a cluster. A browser talks to the web port of the
// node that served its page, and its /config.json names that port's
// /files; but a file's bytes are on the node that took its upload. So a
// download of a file this node does not have is passed through to the web
// port of the node that has it (it checks the download token, signed with
// the secret every node shares), and the browser never needs to reach
// another node, nor CORS, nor the other node's address behind a proxy.

// HTTPHandler returns the handler of the web port's /files (prefix
// stripped): the file server's own, with downloads of files held by
// another node of a cluster passed through to that node's web port. A
// holding node that is not live, or has no web port, answers 503.
func (f *FileService) HTTPHandler() http.Handler {
	local := f.files.HTTPHandler()
	if f.s.node == nil {
		return local
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(r.In.Context().Value(proxyTarget{}).(*url.URL))
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			f.s.log.Warn().Str("path", r.URL.Path).Err(err).Msg("file download: holding node did not answer")
			http.Error(w, "the node holding this file is not reachable; retry later", http.StatusServiceUnavailable)
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target, ok := f.holder(r)
		if !ok {
			local.ServeHTTP(w, r)
			return
		}
		if target == nil {
			w.Header().Set("Retry-After", "10")
			http.Error(w, "the node holding this file is not reachable; retry later", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), proxyTarget{}, target)))
	})
}

// proxyTarget keys the holding node's /files URL in a passed-through
// request's context.
type proxyTarget struct{}

// holder tells where a GET of /{file_id} is served: ok false here (not a
// download, the bytes are on this disk, or the store does not say
// otherwise); else the holding node's /files URL, nil when that node is
// not live or has no web port.
func (f *FileService) holder(r *http.Request) (*url.URL, bool) {
	if r.Method != http.MethodGet { // uploads go to the node that answered file.offer: this one
		return nil, false
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/"), 10, 64)
	if err != nil || id <= 0 || f.files.Complete(id) {
		return nil, false
	}
	meta, err := f.s.store.File(r.Context(), id)
	if err != nil || meta.Node == "" || meta.Node == f.s.node.ID() {
		return nil, false // the local handler answers (not found, incomplete)
	}
	var info fileNodeInfo
	b, live := f.s.node.Info(meta.Node)
	if !live || json.Unmarshal(b, &info) != nil || info.URL == "" {
		return nil, true
	}
	u, err := url.Parse(info.URL)
	if err != nil {
		return nil, true
	}
	return u, true
}
