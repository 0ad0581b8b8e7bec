package diag

import "bytes"

// bom is the UTF-8 byte order mark, which editors on Windows write at the
// start of text files.
var bom = []byte("\uFEFF")

// TextStart is the offset at which the text of src starts: after a byte
// order mark at the start of src, or 0. The mark is not part of the text
// (an editor does not show it), so the first character after it is at
// line 1, column 1; but a position's Offset counts the bytes of the file
// as it is on disk, mark included, so that a tool can seek to it. Readers
// of a source (the parser, the JSON decoder) start there, and Fprint
// quotes line 1 from there, so that its carets line up.
func TextStart(src []byte) int {
	if bytes.HasPrefix(src, bom) {
		return len(bom)
	}
	return 0
}

// TrimBOM drops a byte order mark at the start of src, and only there: it
// is src from TextStart.
func TrimBOM(src []byte) []byte { return src[TextStart(src):] }
