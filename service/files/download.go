package files

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/chatd/chatd/protocol"
	"github.com/chatd/chatd/store"
)

// sendChunk is how many bytes one sendfile-backed copy may move before the
// write deadline is moved forward: with IOTimeout it sets the slowest
// client served (1 MiB per 30 s, about 35 KB/s, by default).
const sendChunk = 1 << 20

// download serves one download: {code, size}, then the bytes from the
// requested offset to the end, straight from the file to the socket
// (io.Copy from an *os.File to a *net.TCPConn uses sendfile). A file whose
// upload is not complete and verified is NOT_FOUND: partial bytes are never
// served.
func (s *Server) download(c *fconn, h protocol.Header, body []byte) {
	var req protocol.FileDownloadReq
	if err := protocol.DecodeRequest(body, &req, &handshakeLimits); err != nil {
		s.replyErr(c, h, protocol.AsError(err))
		return
	}
	claims, err := s.signer.Verify(req.DownloadToken, PurposeDownload)
	if err != nil {
		metricBadTokens.Inc()
		s.log.Info().Err(err).Str("remote", c.RemoteAddr().String()).Msg("download refused: bad token")
		s.replyErr(c, h, protocol.NewError(protocol.CodeBadCredentials, "invalid or expired download token"))
		return
	}
	f, meta, perr := s.openDownload(claims)
	if perr != nil {
		s.replyErr(c, h, perr)
		return
	}
	defer f.Close()
	if req.Offset > meta.Size {
		s.replyErr(c, h, protocol.BadRequest("offset", "beyond the end of the file"))
		return
	}
	if err := s.reply(c, h, &protocol.FileDownloadResp{Status: protocol.OK(), Size: meta.Size}); err != nil {
		return
	}
	if _, err := f.Seek(req.Offset, io.SeekStart); err != nil {
		s.internal(err, "seek download", meta.ID)
		return
	}
	log := s.log.With().Int64("file_id", meta.ID).Int64("user", claims.UserID).Logger()
	sent, err := s.send(c, f, meta.Size-req.Offset)
	if err != nil {
		metricDownloadsCut.Inc()
		log.Info().Err(err).Int64("sent", sent).Int64("offset", req.Offset).Msg("download interrupted")
		return
	}
	metricDownloadsDone.Inc()
	log.Debug().Int64("sent", sent).Int64("offset", req.Offset).Msg("download complete")
}

// openDownload opens the verified bytes of the file claims (a verified
// download token) name, after checking that the upload is complete and that
// the token's user may still read it (Config.CanDownload).
func (s *Server) openDownload(claims Claims) (*os.File, store.FileMeta, *protocol.Error) {
	meta, perr := s.lookup(claims.FileID)
	if perr != nil {
		return nil, meta, perr
	}
	if meta.CompletedAt == 0 {
		return nil, meta, protocol.NewError(protocol.CodeNotFound, "file upload not complete")
	}
	if s.cfg.CanDownload != nil {
		if err := s.cfg.CanDownload(s.ctx, claims.UserID, meta); err != nil {
			if pe := protocol.AsError(err); pe != nil {
				return nil, meta, pe
			}
			return nil, meta, s.storeErr(err, "download check", meta.ID)
		}
	}
	f, err := os.Open(s.finalPath(meta.ID))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			s.log.Error().Int64("file_id", meta.ID).Msg("file marked complete but its bytes are missing")
			return nil, meta, protocol.NewError(protocol.CodeNotFound, "file bytes missing")
		}
		return nil, meta, s.internal(err, "open download", meta.ID)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != meta.Size {
		if err == nil {
			err = fmt.Errorf("file holds %d bytes, metadata says %d", fi.Size(), meta.Size)
		}
		f.Close()
		return nil, meta, s.internal(err, "stat download", meta.ID)
	}
	return f, meta, nil
}

// send copies n bytes from f to c in sendfile-sized chunks, moving the
// write deadline forward between them.
func (s *Server) send(c *fconn, f *os.File, n int64) (int64, error) {
	var sent int64
	for sent < n {
		if err := c.SetWriteDeadline(time.Now().Add(s.cfg.IOTimeout)); err != nil {
			return sent, err
		}
		step := min(n-sent, int64(s.stepSize(sendChunk)))
		if err := s.throttle(int(step)); err != nil {
			return sent, err
		}
		// c.Conn, not c: the *net.TCPConn's ReadFrom is the sendfile path.
		k, err := io.CopyN(c.Conn, f, step)
		sent += k
		metricBytesOut.Add(float64(k))
		if err != nil {
			return sent, fmt.Errorf("send file: %w", err)
		}
	}
	return sent, nil
}
