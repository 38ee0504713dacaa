package protocol

import (
	"encoding/json"
	"errors"
	"reflect"

	"github.com/bytedance/sonic"
)

// This file holds a minimal scanner over the top level of a JSON object. It
// runs only on bodies the JSON decoder has already accepted (so they are
// valid JSON) and finds which keys are present, which the decoder cannot
// tell for fields whose zero value is valid (accept:false, after_seq:0).

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// isObject reports whether the first non-space byte of b opens an object.
func isObject(b []byte) bool {
	for _, c := range b {
		if !isSpace(c) {
			return c == '{'
		}
	}
	return false
}

// skipSpace returns the index of the first non-space byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] == '"',
// and whether it contains escapes.
func skipString(b []byte, i int) (int, bool) {
	esc := false
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			esc = true
			i++
		case '"':
			return i + 1, esc
		}
	}
	return len(b), esc
}

// skipValue returns the index just past the value starting at b[i].
func skipValue(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			i, _ = skipString(b, i)
			if depth == 0 {
				return i
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i // the end of the enclosing object, not of this value
			}
			depth--
			if depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		default:
			if depth == 0 && isSpace(c) {
				return i
			}
		}
		i++
	}
	return i
}

// topLevelKeys calls fn for each key of the object in b with its raw value.
func topLevelKeys(b []byte, fn func(key []byte, escaped bool, value []byte)) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return
		}
		end, esc := skipString(b, i)
		key := b[i+1 : max(end-1, i+1)]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return
		}
		i = skipSpace(b, i+1)
		vend := skipValue(b, i)
		fn(key, esc, b[i:vend])
		i = skipSpace(b, vend)
		if i >= len(b) || b[i] != ',' {
			return
		}
		i++
	}
}

// keyMatches compares a raw key with a field name the way the decoder does:
// after unescaping, exactly or ignoring ASCII case. Unicode folding (the
// Kelvin sign matching "k") is deliberately not applied: where the decoder
// would apply it, the field is then reported missing, which errs on the
// side of BAD_REQUEST.
func keyMatches(raw []byte, escaped bool, name string) bool {
	if !escaped {
		return asciiEqualFold(string(raw), name)
	}
	var s string
	if err := sonic.UnmarshalString(`"`+string(raw)+`"`, &s); err != nil {
		return false
	}
	return asciiEqualFold(s, name)
}

// asciiEqualFold reports whether a and b are equal ignoring ASCII case.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}

// missingField returns the first of names that is absent or null at the top
// level of the object b, or "" when all are there.
func missingField(b []byte, names []string) string {
	if len(names) == 0 {
		return ""
	}
	var seen uint64 // bit i: names[i] present and not null
	topLevelKeys(b, func(key []byte, esc bool, val []byte) {
		for i, n := range names {
			if i < 64 && keyMatches(key, esc, n) {
				if string(val) == "null" {
					seen &^= 1 << i
				} else {
					seen |= 1 << i
				}
			}
		}
	})
	for i, n := range names {
		if i < 64 && seen&(1<<i) == 0 {
			return n
		}
	}
	return ""
}

// fieldAt guesses which top-level field a decoding error is about, for the
// error message: the key whose value holds offset pos, or "".
func fieldAt(b []byte, pos int) string {
	if pos < 0 {
		return ""
	}
	field := ""
	topLevelKeys(b, func(key []byte, esc bool, val []byte) {
		start := cap(b) - cap(val)
		if pos >= start && pos <= start+len(val) && !esc {
			field = string(key)
		}
	})
	return field
}

// errorOffset extracts the input offset from a decoding error of sonic
// (native: Pos field) or encoding/json (fallback: Offset), or -1.
func errorOffset(err error) int {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return int(se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return int(te.Offset) - 1
	}
	v := reflect.ValueOf(err)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return -1
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		if f := v.FieldByName("Pos"); f.IsValid() && f.CanInt() {
			return int(f.Int())
		}
	}
	return -1
}
