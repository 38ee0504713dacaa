package tui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/chatd/chatd/protocol"
)

// fileInfoMsg carries what file.fetch says of a file seen only as a
// "file" message (history, another device): its name and size.
type fileInfoMsg struct {
	id   int64
	name string
	size int64
}

// learnFiles asks the server about the files of msgs the UI knows nothing
// of, once each, so the conversation can name them.
func (m *Model) learnFiles(msgs []protocol.Message) tea.Cmd {
	if m.c == nil {
		return nil
	}
	var cmds []tea.Cmd
	for _, msg := range msgs {
		if msg.Type != protocol.MsgFile {
			continue
		}
		id, err := protocol.ParseFileMessageBody(msg.Body)
		if err != nil {
			continue
		}
		if _, known := m.files[id]; known || m.asked[id] {
			continue
		}
		m.asked[id] = true
		c := m.c
		cmds = append(cmds, request(func(ctx context.Context) tea.Msg {
			info, err := c.FileFetch(ctx, id)
			if err != nil {
				return nil // recalled or gone: the line keeps its number
			}
			return fileInfoMsg{id: id, name: info.Name, size: info.Size}
		}))
	}
	return tea.Batch(cmds...)
}

func (m *Model) onFileInfo(msg fileInfoMsg) {
	f := m.files[msg.id]
	f.FileID, f.Size = msg.id, msg.size
	if msg.name != "" {
		f.Name = msg.name
	}
	m.files[msg.id] = f
}

// fileLabel is how a file message reads: its name and size when known.
func (m *Model) fileLabel(body string) string {
	fid, err := protocol.ParseFileMessageBody(body)
	if err != nil {
		return "[file " + body + "]"
	}
	if f, ok := m.files[fid]; ok && f.Name != "" {
		return fmt.Sprintf("[file %s, %s] /get %d", f.Name, humanBytes(f.Size), fid)
	}
	if f, ok := m.files[fid]; ok {
		return fmt.Sprintf("[file #%d, %s] /get %d", fid, humanBytes(f.Size), fid)
	}
	return fmt.Sprintf("[file #%d] /get %d", fid, fid)
}

// downloadDir is where /get saves without a destination: the user's
// Downloads folder when there is one, else the working directory.
func downloadDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		d := filepath.Join(home, "Downloads")
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	if wd, err := os.Getwd(); err == nil {
		return wd
	}
	return "."
}

// safeName keeps only the last element of a name a peer chose, so a file
// can never be saved outside the chosen directory.
func safeName(name string, fileID int64) string {
	name = filepath.Base(strings.ReplaceAll(name, "\\", "/"))
	if name == "." || name == ".." || name == "/" || name == "" {
		return "file-" + strconv.FormatInt(fileID, 10)
	}
	return name
}

// pickDest resolves where /get saves a file: arg may be empty (the default
// directory), a directory (the file's name inside it) or a file path. An
// existing file, or one whose download is in progress (.part), is never
// overwritten: "name (1).ext", "name (2).ext", ... is taken instead. The
// result is absolute, so the UI can say where the file went.
func pickDest(arg, name, defaultDir string) (string, error) {
	dest := filepath.Join(defaultDir, name)
	if arg != "" {
		dest = arg
		if st, err := os.Stat(arg); (err == nil && st.IsDir()) || strings.HasSuffix(arg, string(filepath.Separator)) || strings.HasSuffix(arg, "/") {
			dest = filepath.Join(arg, name)
		}
	}
	dest, err := filepath.Abs(dest)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(filepath.Dir(dest)); err != nil || !st.IsDir() {
		return "", fmt.Errorf("no directory %s", filepath.Dir(dest))
	}
	ext := filepath.Ext(dest)
	stem := strings.TrimSuffix(dest, ext)
	for i := 1; ; i++ {
		if !exists(dest) && !exists(dest+".part") {
			return dest, nil
		}
		if i > 9999 {
			return "", errors.New("too many files named " + filepath.Base(stem+ext))
		}
		dest = fmt.Sprintf("%s (%d)%s", stem, i, ext)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// saveFile runs download into dest and, when it fails, removes the part
// file it left, so a failed /get leaves nothing behind.
func saveFile(dest string, download func(dest string) error) error {
	err := download(dest)
	if err != nil {
		_ = os.Remove(dest + ".part")
	}
	return err
}

// getFileCmd downloads a file: it learns the file's name when the UI does
// not know it, picks a destination that overwrites nothing, and says where
// the file went.
func (m *Model) getFileCmd(id int, fileID int64, name, arg string) tea.Cmd {
	c := m.c
	events := m.sess.events
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if name == "" {
			if info, err := c.FileFetch(ctx, fileID); err == nil {
				name = info.Name
			}
		}
		label := "downloading " + safeName(name, fileID)
		dest, err := pickDest(arg, safeName(name, fileID), downloadDir())
		if err != nil {
			return transferDoneMsg{id: id, label: label, err: err}
		}
		err = saveFile(dest, func(dest string) error {
			return c.DownloadFile(ctx, fileID, dest, progressFunc(id, events, nil))
		})
		done := transferDoneMsg{id: id, label: label, err: err}
		if err == nil {
			done.saved = dest
		}
		return done
	}
}

// avatarTypes are the image formats an avatar may have, by sniffed
// content type.
var avatarTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// checkAvatar refuses what is not a PNG, JPEG, GIF or WebP image (judged
// by its content, not its name) or is over the server's limit.
func checkAvatar(path string, img []byte) error {
	limit := protocol.DefaultLimits().MaxAvatar
	if len(img) == 0 {
		return fmt.Errorf("%s is empty", filepath.Base(path))
	}
	if ct := http.DetectContentType(img); !avatarTypes[ct] {
		kind := strings.TrimSuffix(strings.SplitN(ct, ";", 2)[0], " ")
		return fmt.Errorf("%s is not a PNG, JPEG, GIF or WebP image (it looks like %s)", filepath.Base(path), kind)
	}
	if len(img) > limit {
		return fmt.Errorf("%s is %s; an avatar may be at most %s", filepath.Base(path), humanBytes(int64(len(img))), humanBytes(int64(limit)))
	}
	return nil
}

func (m *Model) avatarCmd(path string) tea.Cmd {
	c := m.c
	return request(func(ctx context.Context) tea.Msg {
		img, err := os.ReadFile(path)
		if err != nil {
			return failure("avatar", err)
		}
		if err := checkAvatar(path, img); err != nil {
			return failure("avatar", err)
		}
		p, err := c.SetAvatar(ctx, img)
		if err != nil {
			return failure("avatar", err)
		}
		return tea.BatchMsg{always(profileMsg(*p)), always(notice("avatar updated (%d bytes)", len(img)))}
	})
}
