/// A strict scanner for one flat JSON object per line (NDJSON records).
///
/// Nested objects and arrays are refused: records are flat by design. It works on bytes and
/// reports failures without quoting input, so no record value reaches an error message.
package enum FlatJSON {
    /// Why a line is not a flat JSON object. Carries no input bytes.
    package struct ParseError: Error, Equatable, Sendable {
        package let offset: Int
    }

    /// One key-value pair of a flat object, as byte ranges into the scanned line.
    package struct RawPair: Sendable {
        package enum Kind: Sendable { case string, escapedString, number, `true`, `false`, null }
        /// The key's bytes (between the quotes; keys with escapes are refused).
        package var key: Range<Int>
        package var kind: Kind
        /// For strings the bytes between the quotes (escapes left as they are), else the literal.
        package var value: Range<Int>
    }

    /// Scans one flat JSON object into `pairs` (cleared first) without creating strings. Keys may
    /// not contain escapes; duplicate keys are left for the caller to find.
    package static func scanObject(_ bytes: UnsafeRawBufferPointer, into pairs: inout [RawPair]) throws(ParseError) {
        pairs.removeAll(keepingCapacity: true)
        var i = 0
        let n = bytes.count
        func fail() -> ParseError { ParseError(offset: i) }
        func skipSpace() {
            while i < n, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D || bytes[i] == 0x0A { i += 1 }
        }
        func string() throws(ParseError) -> (Range<Int>, escaped: Bool) {
            guard i < n, bytes[i] == 0x22 else { throw fail() }
            i += 1
            let start = i
            var escaped = false
            while i < n, bytes[i] != 0x22 {
                if bytes[i] < 0x20 { throw fail() }
                if bytes[i] == 0x5C {
                    escaped = true
                    i += 2
                    continue
                }
                i += 1
            }
            guard i < n else { throw fail() }
            i += 1
            return (start..<(i - 1), escaped)
        }
        func literal(_ word: StaticString) throws(ParseError) -> Range<Int> {
            let length = word.utf8CodeUnitCount
            let start = i
            guard i + length <= n else { throw fail() }
            for k in 0..<length where bytes[i + k] != word.utf8Start[k] { throw fail() }
            i += length
            return start..<i
        }
        skipSpace()
        guard i < n, bytes[i] == 0x7B else { throw fail() }
        i += 1
        skipSpace()
        if i < n, bytes[i] == 0x7D {
            i += 1
        } else {
            while true {
                skipSpace()
                let (key, keyEscaped) = try string()
                if keyEscaped { throw fail() }
                skipSpace()
                guard i < n, bytes[i] == 0x3A else { throw fail() }
                i += 1
                skipSpace()
                guard i < n else { throw fail() }
                switch bytes[i] {
                case 0x22:
                    let (value, escaped) = try string()
                    pairs.append(RawPair(key: key, kind: escaped ? .escapedString : .string, value: value))
                case 0x74: pairs.append(RawPair(key: key, kind: .true, value: try literal("true")))
                case 0x66: pairs.append(RawPair(key: key, kind: .false, value: try literal("false")))
                case 0x6E: pairs.append(RawPair(key: key, kind: .null, value: try literal("null")))
                case 0x2D, 0x30...0x39:
                    // RFC 8259: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
                    let start = i
                    if bytes[i] == 0x2D { i += 1 }
                    func digits() -> Int {
                        let from = i
                        while i < n, (0x30...0x39).contains(bytes[i]) { i += 1 }
                        return i - from
                    }
                    guard i < n, (0x30...0x39).contains(bytes[i]) else { throw fail() }
                    if bytes[i] == 0x30 {
                        i += 1  // a leading zero is the whole integer part: 07 is not JSON
                        guard i == n || !(0x30...0x39).contains(bytes[i]) else { throw fail() }
                    } else {
                        _ = digits()
                    }
                    if i < n, bytes[i] == 0x2E {
                        i += 1
                        guard digits() > 0 else { throw fail() }
                    }
                    if i < n, bytes[i] == 0x65 || bytes[i] == 0x45 {
                        i += 1
                        if i < n, bytes[i] == 0x2B || bytes[i] == 0x2D { i += 1 }
                        guard digits() > 0 else { throw fail() }
                    }
                    pairs.append(RawPair(key: key, kind: .number, value: start..<i))
                default:
                    throw fail()
                }
                skipSpace()
                guard i < n else { throw fail() }
                if bytes[i] == 0x2C {
                    i += 1
                    continue
                }
                if bytes[i] == 0x7D {
                    i += 1
                    break
                }
                throw fail()
            }
        }
        skipSpace()
        guard i == n else { throw fail() }
    }
}
