/// JSON text written byte by byte, for the hot paths that cannot afford a general encoder (the
/// audit chain's canonical bytes, delivered records).
package enum JSONText {
    /// Appends `s` as a JSON string literal to `out`: `"` and `\` escaped, control characters as
    /// `\n`, `\r`, `\t` or `\u00xx` (lower-case hex), everything else as its UTF-8 bytes.
    package static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(0x22)
        // Fast path: nothing to escape (the usual case), one bulk copy.
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C }) {
            out.append(contentsOf: s.utf8)
            out.append(0x22)
            return
        }
        for byte in s.utf8 {
            switch byte {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: out.append(contentsOf: [0x5C, 0x72])
            case 0x09: out.append(contentsOf: [0x5C, 0x74])
            case 0..<0x20:
                let hex = Array(String(byte, radix: 16).utf8)
                out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30] + (hex.count == 1 ? [0x30] + hex : hex))
            default: out.append(byte)
            }
        }
        out.append(0x22)
    }
}
