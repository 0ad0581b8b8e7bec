package diag

import "bytes"

// bom is the UTF-8 byte order mark, which editors on Windows write at the
// start of text files.
var bom = []byte("\uFEFF")

// TrimBOM drops a byte order mark at the start of src, and only there.
// The mark is not part of the text (an editor does not show it), so
// positions in a source count from after it: the first character after
// the mark is at line 1, column 1. The parser reads a source this way, and
// Fprint quotes it this way, so that its carets line up.
func TrimBOM(src []byte) []byte { return bytes.TrimPrefix(src, bom) }
