package files

import "os"

// writeBehind is the part file an upload writes to, handed to the kernel's
// writeback as it grows. Without it a 500 MiB upload left up to 500 MiB
// dirty in the page cache until commitPart's fsync, and on ext4
// (data=ordered) that fsync's journal commit, and every fsync of the
// store's write-ahead log sharing the commit, waited for all of it: chat
// acks stalled for up to 1.5 s when four uploads ended together. Every
// writeBehindWindow bytes, the window just written is handed to writeback
// without waiting for it, so the disk writes while the upload runs and the
// final fsync finds little left. (Waiting for the window before, to bound
// the dirty bytes too, made uploads here twice as slow.) Writeback is a
// hint: its errors are left to the final fsync, which still runs.
type writeBehind struct {
	f     *os.File
	off   int64 // file offset of the next byte written
	start int64 // first byte not yet handed to writeback
	// begin starts writeback (startWriteback; tests record the calls).
	begin func(f *os.File, off, n int64)
}

// writeBehindWindow is how much an upload writes between writeback calls.
const writeBehindWindow = 8 << 20

// newWriteBehind wraps f, whose next write lands at offset off.
func newWriteBehind(f *os.File, off int64) *writeBehind {
	return &writeBehind{f: f, off: off, start: off, begin: startWriteback}
}

// Write writes p at the file's offset.
func (w *writeBehind) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	return n, err
}

// settle hands a completed window to writeback. It is a system call that
// may wait for the disk's queue, so it runs outside the CPU slots.
func (w *writeBehind) settle() {
	if w.off-w.start < writeBehindWindow {
		return
	}
	w.begin(w.f, w.start, w.off-w.start)
	w.start = w.off
}
