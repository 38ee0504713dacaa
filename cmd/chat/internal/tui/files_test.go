package tui

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPickDestNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	def := filepath.Join(dir, "downloads")
	if err := os.Mkdir(def, 0o700); err != nil {
		t.Fatal(err)
	}
	check := func(arg, want string) {
		t.Helper()
		got, err := pickDest(arg, "report.pdf", def)
		if err != nil || got != want {
			t.Fatalf("pickDest(%q) = %q, %v; want %q", arg, got, err, want)
		}
		if err := os.WriteFile(got, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// No argument: the default directory, absolute.
	check("", filepath.Join(def, "report.pdf"))
	check("", filepath.Join(def, "report (1).pdf"))
	// A directory: the file's name inside it.
	check(dir, filepath.Join(dir, "report.pdf"))
	check(dir+string(filepath.Separator), filepath.Join(dir, "report (1).pdf"))
	// A file path that exists: a new name beside it.
	check(filepath.Join(dir, "report.pdf"), filepath.Join(dir, "report (2).pdf"))
	// A download in progress (.part) counts as taken.
	if err := os.WriteFile(filepath.Join(dir, "x.bin.part"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := pickDest(filepath.Join(dir, "x.bin"), "report.pdf", def); got != filepath.Join(dir, "x (1).bin") {
		t.Fatalf("next to a part file: %q", got)
	}
	// A relative path is made absolute, so the UI can say where it went.
	t.Chdir(dir)
	if got, _ := pickDest("new.pdf", "report.pdf", def); got != filepath.Join(dir, "new.pdf") {
		t.Fatalf("relative: %q", got)
	}
	if _, err := pickDest(filepath.Join(dir, "missing", "f"), "report.pdf", def); err == nil || !strings.Contains(err.Error(), "no directory") {
		t.Fatalf("missing directory: %v", err)
	}
	// A name chosen by the sender cannot climb out of the directory.
	if got := safeName("../../etc/passwd", 4); got != "passwd" {
		t.Fatalf("safeName %q", got)
	}
	if got := safeName("..", 4); got != "file-4" {
		t.Fatalf("safeName %q", got)
	}
}

func TestSaveFileRemovesPartOnFailure(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "f.txt")
	boom := errors.New("connection cut")
	err := saveFile(dest, func(dest string) error {
		if err := os.WriteFile(dest+".part", []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	if exists(dest+".part") || exists(dest) {
		t.Fatal("a failed download left a file behind")
	}
}

// TestAvatarMustBeAnImage: /avatar checks the file's content, before
// anything is sent, and says what is wrong.
func TestAvatarMustBeAnImage(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	m := loggedIn(t) // no client: a file that passes the check would panic here
	for _, tc := range []struct{ path, want string }{
		{write("notes.png", []byte("just some text, named .png")), "notes.png is not a PNG, JPEG, GIF or WebP image (it looks like text/plain"},
		{write("empty.png", nil), "empty.png is empty"},
		{write("big.png", append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 300<<10)...)), "an avatar may be at most 256.0 KiB"},
		{filepath.Join(dir, "missing.png"), "no such file"},
	} {
		msg := m.avatarCmd(tc.path)()
		n, ok := msg.(noticeMsg)
		if !ok || !n.err || !strings.Contains(n.text, tc.want) {
			t.Fatalf("%s: %#v, want an error with %q", tc.path, msg, tc.want)
		}
	}
	for _, img := range [][]byte{
		[]byte("\x89PNG\r\n\x1a\nrest"),
		[]byte("\xff\xd8\xffrest"),
		[]byte("GIF89arest"),
		[]byte("RIFF\x00\x00\x00\x00WEBPVP8 rest"),
	} {
		if err := checkAvatar("a", img); err != nil {
			t.Fatalf("%q refused: %v", img[:4], err)
		}
	}
}
