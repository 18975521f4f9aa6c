/// A scalar value of a flat JSON object: the only shape a Vangnet record may have.
public enum JSONScalar: Sendable, Hashable {
    case string(String)
    case number(String)
    case bool(Bool)
    case null
}

/// A strict, allocation-light parser for one flat JSON object per line (NDJSON records).
///
/// Nested objects and arrays are refused: records are flat by design. The parser works on bytes
/// and reports failures without quoting input, so no record value reaches an error message.
public enum FlatJSON {
    /// Why a line is not a flat JSON object. Carries no input bytes.
    public struct ParseError: Error, Equatable, Sendable {
        public let offset: Int
    }

    /// Parses `bytes` as one flat JSON object; duplicate keys are an error.
    public static func parseObject(_ bytes: UnsafeRawBufferPointer) throws(ParseError) -> [(key: String, value: JSONScalar)] {
        var p = Parser(bytes: bytes)
        return try p.object()
    }

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        var i = 0

        mutating func fail() -> ParseError { ParseError(offset: i) }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0D || bytes[i] == 0x0A { i += 1 }
        }

        mutating func expect(_ c: UInt8) throws(ParseError) {
            skipSpace()
            guard i < bytes.count, bytes[i] == c else { throw fail() }
            i += 1
        }

        mutating func object() throws(ParseError) -> [(key: String, value: JSONScalar)] {
            try expect(0x7B) // {
            var out: [(key: String, value: JSONScalar)] = []
            skipSpace()
            if i < bytes.count, bytes[i] == 0x7D { i += 1; return try end(out) }
            while true {
                skipSpace()
                let key = try string()
                if out.contains(where: { $0.key == key }) { throw fail() }
                try expect(0x3A) // :
                skipSpace()
                out.append((key, try scalar()))
                skipSpace()
                guard i < bytes.count else { throw fail() }
                if bytes[i] == 0x2C { i += 1; continue }
                if bytes[i] == 0x7D { i += 1; return try end(out) }
                throw fail()
            }
        }

        mutating func end(_ out: [(key: String, value: JSONScalar)]) throws(ParseError) -> [(key: String, value: JSONScalar)] {
            skipSpace()
            guard i == bytes.count else { throw fail() }
            return out
        }

        mutating func scalar() throws(ParseError) -> JSONScalar {
            guard i < bytes.count else { throw fail() }
            switch bytes[i] {
            case 0x22: return .string(try string())
            case 0x74: try literal("true"); return .bool(true)
            case 0x66: try literal("false"); return .bool(false)
            case 0x6E: try literal("null"); return .null
            case 0x2D, 0x30...0x39: return .number(try number())
            default: throw fail()
            }
        }

        mutating func literal(_ word: StaticString) throws(ParseError) {
            let n = word.utf8CodeUnitCount
            guard i + n <= bytes.count else { throw fail() }
            for k in 0..<n where bytes[i + k] != word.utf8Start[k] { throw fail() }
            i += n
        }

        mutating func number() throws(ParseError) -> String {
            let start = i
            if bytes[i] == 0x2D { i += 1 }
            var digits = 0
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1; digits += 1 }
            guard digits > 0 else { throw fail() }
            if i < bytes.count, bytes[i] == 0x2E {
                i += 1
                var frac = 0
                while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1; frac += 1 }
                guard frac > 0 else { throw fail() }
            }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        }

        mutating func string() throws(ParseError) -> String {
            guard i < bytes.count, bytes[i] == 0x22 else { throw fail() }
            i += 1
            let start = i
            var simple = true
            while i < bytes.count, bytes[i] != 0x22 {
                if bytes[i] < 0x20 { throw fail() }
                if bytes[i] == 0x5C { simple = false; i += 2; continue }
                i += 1
            }
            guard i < bytes.count else { throw fail() }
            let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<i])
            i += 1
            if simple {
                if raw.allSatisfy({ $0 < 0x80 }) { return String(decoding: raw, as: UTF8.self) } // ASCII: valid as is
                guard let s = String(validating: raw, as: UTF8.self) else { throw fail() }
                return s
            }
            return try unescape(raw)
        }

        mutating func unescape(_ raw: UnsafeRawBufferPointer) throws(ParseError) -> String {
            var out: [UInt8] = []
            out.reserveCapacity(raw.count)
            var k = 0
            while k < raw.count {
                let c = raw[k]
                guard c == 0x5C else { out.append(c); k += 1; continue }
                guard k + 1 < raw.count else { throw fail() }
                let e = raw[k + 1]
                k += 2
                switch e {
                case 0x22, 0x5C, 0x2F: out.append(e)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x75:
                    guard k + 4 <= raw.count, let code = UInt32(String(decoding: UnsafeRawBufferPointer(rebasing: raw[k..<k + 4]), as: UTF8.self), radix: 16),
                          let scalar = Unicode.Scalar(code) else { throw fail() }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    k += 4
                default: throw fail()
                }
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw fail() }
            return s
        }
    }
}
