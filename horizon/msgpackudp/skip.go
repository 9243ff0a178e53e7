package msgpackudp

import (
	"encoding/binary"
	"fmt"
)

// The msgpack format codes this package looks at (msgpcode declares them as variables, which
// cannot be switch constants).
const (
	codeNil      = 0xc0
	codeNever    = 0xc1 // never used by the format
	codeFalse    = 0xc2
	codeTrue     = 0xc3
	codeBin8     = 0xc4
	codeBin16    = 0xc5
	codeBin32    = 0xc6
	codeExt8     = 0xc7
	codeExt16    = 0xc8
	codeExt32    = 0xc9
	codeFloat32  = 0xca
	codeFloat64  = 0xcb
	codeUint8    = 0xcc
	codeUint16   = 0xcd
	codeUint32   = 0xce
	codeUint64   = 0xcf
	codeInt8     = 0xd0
	codeInt16    = 0xd1
	codeInt32    = 0xd2
	codeInt64    = 0xd3
	codeFixExt1  = 0xd4
	codeFixExt2  = 0xd5
	codeFixExt4  = 0xd6
	codeFixExt8  = 0xd7
	codeFixExt16 = 0xd8
	codeStr8     = 0xd9
	codeStr16    = 0xda
	codeStr32    = 0xdb
	codeArray16  = 0xdc
	codeArray32  = 0xdd
	codeMap16    = 0xde
	codeMap32    = 0xdf
)

func isArray(c byte) bool { return 0x90 <= c && c <= 0x9f || c == codeArray16 || c == codeArray32 }
func isMap(c byte) bool   { return 0x80 <= c && c <= 0x8f || c == codeMap16 || c == codeMap32 }
func isStr(c byte) bool {
	return 0xa0 <= c && c <= 0xbf || c == codeStr8 || c == codeStr16 || c == codeStr32
}
func isBin(c byte) bool { return c == codeBin8 || c == codeBin16 || c == codeBin32 }
func isExt(c byte) bool {
	return codeExt8 <= c && c <= codeExt32 || codeFixExt1 <= c && c <= codeFixExt16
}

// isInt reports the codes that msgpack.Decoder.DecodeInt64 turns into an int64 without loss
// (every int code but uint64).
func isInt(c byte) bool {
	return c <= 0x7f || c >= 0xe0 || codeUint8 <= c && c <= codeUint32 || codeInt8 <= c && c <= codeInt64
}

// kind names the type of the object starting with code c, for error messages.
func kind(c byte) string {
	switch {
	case isArray(c):
		return "array"
	case isMap(c):
		return "map"
	case isStr(c):
		return "str"
	case isBin(c):
		return "bin"
	case isExt(c):
		return "ext"
	case isInt(c) || c == codeUint64:
		return "int"
	case c == codeFloat32 || c == codeFloat64:
		return "float"
	case c == codeNil:
		return "nil"
	case c == codeFalse || c == codeTrue:
		return "bool"
	}
	return fmt.Sprintf("invalid code 0x%02x", c)
}

// skip returns the offset just past the msgpack object that starts at b[pos]. It checks every
// declared length and element count against the bytes that remain (each element needs at
// least one byte), so it runs in O(len(b)) time, without recursion and without allocating,
// however deep or large the object claims to be.
func skip(b []byte, pos int) (int, error) {
	for pending := 1; pending > 0; pending-- {
		if pos >= len(b) {
			return 0, fmt.Errorf("truncated at offset %d", pos)
		}
		at, c := pos, b[pos]
		pos++
		size, count := 0, 0 // payload bytes after the header; elements that follow
		switch {
		case c <= 0x7f || c >= 0xe0: // fixint
		case c <= 0x8f: // fixmap
			count = 2 * int(c&0x0f)
		case c <= 0x9f: // fixarray
			count = int(c & 0x0f)
		case c <= 0xbf: // fixstr
			size = int(c & 0x1f)
		default:
			var hdr int // bytes of the length field
			switch c {
			case codeNil, codeFalse, codeTrue:
			case codeBin8, codeStr8, codeExt8:
				hdr = 1
			case codeBin16, codeStr16, codeExt16, codeArray16, codeMap16:
				hdr = 2
			case codeBin32, codeStr32, codeExt32, codeArray32, codeMap32:
				hdr = 4
			case codeFloat32, codeUint32, codeInt32:
				size = 4
			case codeFloat64, codeUint64, codeInt64:
				size = 8
			case codeUint8, codeInt8:
				size = 1
			case codeUint16, codeInt16:
				size = 2
			case codeFixExt1, codeFixExt2, codeFixExt4, codeFixExt8, codeFixExt16:
				size = 1 + 1<<(c-codeFixExt1) // type byte + 1, 2, 4, 8 or 16 data bytes
			default: // codeNever
				return 0, fmt.Errorf("invalid code 0x%02x at offset %d", c, at)
			}
			if hdr > len(b)-pos {
				return 0, fmt.Errorf("truncated length of a msgpack %s at offset %d", kind(c), at)
			}
			var n uint64
			switch hdr {
			case 1:
				n = uint64(b[pos])
			case 2:
				n = uint64(binary.BigEndian.Uint16(b[pos:]))
			case 4:
				n = uint64(binary.BigEndian.Uint32(b[pos:]))
			}
			pos += hdr
			if n > uint64(len(b)) {
				return 0, fmt.Errorf("msgpack %s at offset %d declares length %d, more than the %d bytes that remain", kind(c), at, n, len(b)-pos)
			}
			switch {
			case c == codeArray16 || c == codeArray32:
				count = int(n)
			case c == codeMap16 || c == codeMap32:
				count = 2 * int(n)
			case c == codeExt8 || c == codeExt16 || c == codeExt32:
				size = 1 + int(n) // type byte + data
			case hdr > 0:
				size = int(n)
			}
		}
		if size > len(b)-pos {
			return 0, fmt.Errorf("msgpack %s at offset %d declares %d bytes, more than the %d that remain", kind(c), at, size, len(b)-pos)
		}
		pos += size
		pending += count
		if pending-1 > len(b)-pos {
			return 0, fmt.Errorf("msgpack %s at offset %d declares %d elements, more than the %d bytes that remain", kind(c), at, count, len(b)-pos)
		}
	}
	return pos, nil
}
