package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// maxLineBytes bounds one line of a JSON-lines input (the Amazon metadata
// has lines of a few hundred kilobytes).
const maxLineBytes = 64 << 20

// gzipMagic starts every gzip stream.
var gzipMagic = []byte{0x1f, 0x8b}

// lineReader reads the lines of a plain or gzip-compressed text input,
// counting them for error messages.
type lineReader struct {
	name string
	sc   *bufio.Scanner
	line int
}

// openLines opens in as gzip when it starts with the gzip magic bytes, and
// as plain text otherwise.
func openLines(in Input) (*lineReader, error) {
	if in.Reader == nil {
		return nil, fmt.Errorf("%s: nil reader", in.Name)
	}
	br, ok := in.Reader.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(in.Reader)
	}
	lr := &lineReader{name: in.Name}
	var r io.Reader = br
	if magic, _ := br.Peek(len(gzipMagic)); bytes.Equal(magic, gzipMagic) {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: reading the gzip header: %w", in.Name, err)
		}
		r = gz
	}
	lr.sc = bufio.NewScanner(r)
	lr.sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	return lr, nil
}

// next returns the next non-blank line (valid until the following call)
// or io.EOF.
func (lr *lineReader) next() ([]byte, error) {
	for lr.sc.Scan() {
		lr.line++
		b := bytes.TrimSpace(lr.sc.Bytes())
		if len(b) > 0 {
			return b, nil
		}
	}
	err := lr.sc.Err()
	switch {
	case err == nil:
		return nil, io.EOF
	case errors.Is(err, bufio.ErrTooLong):
		return nil, lineErrorf(lr.name, lr.line+1, "line longer than %d bytes", maxLineBytes)
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, lineErrorf(lr.name, lr.line+1, "corrupt or truncated gzip stream: %v", err)
	}
	return nil, fmt.Errorf("%s: reading line %d: %w", lr.name, lr.line+1, err)
}

func (lr *lineReader) errorf(format string, args ...any) error {
	return lineErrorf(lr.name, lr.line, format, args...)
}

// where is "NAME:LINE" of the line last returned by next.
func (lr *lineReader) where() string { return fmt.Sprintf("%s:%d", lr.name, lr.line) }
