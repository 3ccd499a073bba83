package data

import (
	"errors"
	"fmt"
	"strings"
)

// pythonToJSON rewrites a Python literal (the repr of a dict of strings,
// numbers, lists, dicts, True, False and None, as in the original Amazon
// metadata files) into JSON: single-quoted strings become double-quoted,
// \xNN and \' escapes are rewritten, True/False/None become
// true/false/null. It does not validate the rest: the JSON decoder does.
func pythonToJSON(src []byte) ([]byte, error) {
	var out strings.Builder
	out.Grow(len(src) + 16)
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '\'' || c == '"':
			n, err := pyString(&out, src[i:])
			if err != nil {
				return nil, fmt.Errorf("at byte %d: %w", i+1, err)
			}
			i += n
		case c >= '0' && c <= '9':
			j := i
			for j < len(src) && strings.IndexByte("0123456789.eE+-", src[j]) >= 0 {
				j++
			}
			out.Write(src[i:j]) // a number; the JSON decoder checks it
			i = j
		case isIdentStart(c):
			j := i
			for j < len(src) && (isIdentStart(src[j]) || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			switch w := string(src[i:j]); w {
			case "True":
				out.WriteString("true")
			case "False":
				out.WriteString("false")
			case "None":
				out.WriteString("null")
			default:
				return nil, fmt.Errorf("at byte %d: unexpected name %q", i+1, w)
			}
			i = j
		default:
			out.WriteByte(c)
			i++
		}
	}
	return []byte(out.String()), nil
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// pyString writes the Python string literal at the start of s as a JSON
// string and returns the number of bytes it took.
func pyString(out *strings.Builder, s []byte) (int, error) {
	q := s[0]
	out.WriteByte('"')
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			out.WriteByte('"')
			return i + 1, nil
		case c == '"':
			out.WriteString(`\"`)
		case c < 0x20:
			fmt.Fprintf(out, `\u%04x`, c)
		case c != '\\':
			out.WriteByte(c)
		case i+1 >= len(s):
			return 0, errors.New("unterminated string")
		default:
			i++
			switch e := s[i]; e {
			case '\'':
				out.WriteByte('\'')
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				out.WriteByte('\\')
				out.WriteByte(e)
			case 'x':
				if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
					return 0, errors.New(`bad \x escape`)
				}
				out.WriteString(`\u00`)
				out.Write(s[i+1 : i+3])
				i += 2
			case 'u':
				if i+4 >= len(s) {
					return 0, errors.New(`bad \u escape`)
				}
				for _, h := range s[i+1 : i+5] {
					if !isHex(h) {
						return 0, errors.New(`bad \u escape`)
					}
				}
				out.WriteString(`\u`)
				out.Write(s[i+1 : i+5])
				i += 4
			default:
				return 0, fmt.Errorf(`unsupported escape \%c`, e)
			}
		}
	}
	return 0, errors.New("unterminated string")
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
