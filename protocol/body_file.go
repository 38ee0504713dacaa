package protocol

// Bodies of section 9 (files): the chat-port requests file.offer and
// file.fetch, the pushes, and the file-port handshake.

// FileOfferReq is the body of file.offer: exactly one of ToUser and ToGroup.
type FileOfferReq struct {
	ToUser  int64  `json:"to_user,omitempty"`
	ToGroup int64  `json:"to_group,omitempty"`
	Name    string `json:"name"`
	Size    int64  `json:"size"`
	Sha256  string `json:"sha256"`
}

var fileOfferFields = []string{"name", "size", "sha256"}

// RequiredFields implements Body.
func (*FileOfferReq) RequiredFields() []string { return fileOfferFields }

// Validate implements Request.
func (r *FileOfferReq) Validate(l *Limits) error {
	if err := checkTarget(r.ToUser, r.ToGroup); err != nil {
		return err
	}
	if err := l.CheckFileName(r.Name); err != nil {
		return err
	}
	if err := l.CheckFileSize(r.Size); err != nil {
		return err
	}
	return CheckSha256("sha256", r.Sha256)
}

// FileOfferResp is the reply to file.offer.
type FileOfferResp struct {
	Status
	FileID      int64  `json:"file_id"`
	UploadToken string `json:"upload_token"`
	FileAddr    string `json:"file_addr"`
	// FileTLS (1.1) is true when the client should use TLS on the file port.
	FileTLS bool `json:"file_tls,omitempty"`
}

var fileOfferRespFields = []string{"code", "file_id", "upload_token", "file_addr"}

// RequiredFields implements Body.
func (r *FileOfferResp) RequiredFields() []string { return r.need(fileOfferRespFields) }

// FileFetchReq is the body of file.fetch.
type FileFetchReq struct {
	FileID int64 `json:"file_id"`
}

var fileIDFields = []string{"file_id"}

// RequiredFields implements Body.
func (*FileFetchReq) RequiredFields() []string { return fileIDFields }

// Validate implements Request.
func (r *FileFetchReq) Validate(*Limits) error { return CheckID("file_id", r.FileID) }

// FileFetchResp is the reply to file.fetch.
type FileFetchResp struct {
	Status
	DownloadToken string `json:"download_token"`
	FileAddr      string `json:"file_addr"`
	Size          int64  `json:"size"`
	Sha256        string `json:"sha256"`
	// FileTLS (1.1) is true when the client should use TLS on the file port.
	FileTLS bool `json:"file_tls,omitempty"`
	// Name (extension) is the file's name as offered, so a client that
	// missed the file.offered push (history loaded later, another device)
	// can show and save the file under its name.
	Name string `json:"name,omitempty"`
}

var fileFetchRespFields = []string{"code", "download_token", "file_addr", "size", "sha256"}

// RequiredFields implements Body.
func (r *FileFetchResp) RequiredFields() []string { return r.need(fileFetchRespFields) }

// FileOfferedPush is the body of the file.offered push.
type FileOfferedPush struct {
	FileID int64   `json:"file_id"`
	From   Profile `json:"from"`
	Name   string  `json:"name"`
	Size   int64   `json:"size"`
	Sha256 string  `json:"sha256"`
}

var fileOfferedFields = []string{"file_id", "from", "name", "size", "sha256"}

// RequiredFields implements Body.
func (*FileOfferedPush) RequiredFields() []string { return fileOfferedFields }

// FileReadyPush is the body of the file.ready push to the uploader.
type FileReadyPush struct {
	FileID int64 `json:"file_id"`
}

// RequiredFields implements Body.
func (*FileReadyPush) RequiredFields() []string { return fileIDFields }

// FileUploadReq is the first frame on a file-port upload connection (op
// file.upload): the client's resume offset, 0 for a new upload.
type FileUploadReq struct {
	UploadToken string `json:"upload_token"`
	Offset      int64  `json:"offset"`
}

var fileUploadFields = []string{"upload_token", "offset"}

// RequiredFields implements Body.
func (*FileUploadReq) RequiredFields() []string { return fileUploadFields }

// Validate implements Request.
func (r *FileUploadReq) Validate(*Limits) error {
	if r.UploadToken == "" {
		return BadRequest("upload_token", "must not be empty")
	}
	if r.Offset < 0 {
		return BadRequest("offset", "must not be negative")
	}
	return nil
}

// FileUploadResp is the server's answer to file.upload: Offset is how many
// bytes it already holds; the client sends the rest. The final answer after
// the bytes (checksum verdict) is a bare Status.
type FileUploadResp struct {
	Status
	Offset int64 `json:"offset"`
}

var offsetRespFields = []string{"code", "offset"}

// RequiredFields implements Body.
func (r *FileUploadResp) RequiredFields() []string { return r.need(offsetRespFields) }

// FileDownloadReq is the first frame on a file-port download connection (op
// file.download).
type FileDownloadReq struct {
	DownloadToken string `json:"download_token"`
	Offset        int64  `json:"offset"`
}

var fileDownloadFields = []string{"download_token", "offset"}

// RequiredFields implements Body.
func (*FileDownloadReq) RequiredFields() []string { return fileDownloadFields }

// Validate implements Request.
func (r *FileDownloadReq) Validate(*Limits) error {
	if r.DownloadToken == "" {
		return BadRequest("download_token", "must not be empty")
	}
	if r.Offset < 0 {
		return BadRequest("offset", "must not be negative")
	}
	return nil
}

// FileDownloadResp is the server's answer to file.download: the whole file's
// size; the raw bytes from the requested offset follow.
type FileDownloadResp struct {
	Status
	Size int64 `json:"size"`
}

var sizeRespFields = []string{"code", "size"}

// RequiredFields implements Body.
func (r *FileDownloadResp) RequiredFields() []string { return r.need(sizeRespFields) }
