/// A strict reader of one JSON text (RFC 8259) whose top level is an object, for signed data that
/// must read one way only: whatever parser a verifier uses, it must see the same values.
///
/// Refused: anything RFC 8259 does not allow (a byte order mark, leading zeros, `NaN`, trailing
/// commas, control characters in strings, invalid escapes), invalid UTF-8 anywhere, a lone
/// surrogate escape, duplicate member names in any object (compared after unescaping), and
/// nesting deeper than 32.
package struct StrictJSON: Sendable {
    /// Why a text was refused, with the byte offset where the reader stopped; never a byte of the text.
    package struct Failure: Error, CustomStringConvertible, Equatable {
        package let offset: Int
        package let reason: String
        package var description: String { "\(reason) at byte \(offset)" }
    }

    /// The top-level object's members in order: the unescaped name and the raw bytes of the value.
    package let members: [(name: String, value: ArraySlice<UInt8>)]

    /// The raw bytes of member `name`'s value.
    package subscript(name: String) -> ArraySlice<UInt8>? { members.first { $0.name == name }?.value }

    /// Whether member `name` is an integer written as one (no fraction, no exponent).
    package func isInteger(_ name: String) -> Bool {
        guard let value = self[name], let first = value.first else { return false }
        let digits = first == UInt8(ascii: "-") ? value.dropFirst() : value
        return !digits.isEmpty && digits.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    package init(_ bytes: [UInt8]) throws {
        var reader = Reader(bytes: bytes)
        reader.skipWhitespace()
        guard reader.peek == UInt8(ascii: "{") else { throw reader.failure("the text is not a JSON object") }
        members = try reader.object(depth: 0, keep: true)
        reader.skipWhitespace()
        guard reader.index == bytes.endIndex else { throw reader.failure("data after the JSON object") }
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        var peek: UInt8? { index < bytes.endIndex ? bytes[index] : nil }

        func failure(_ reason: String) -> Failure { Failure(offset: index, reason: reason) }

        mutating func skipWhitespace() {
            while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws {
            guard peek == byte else { throw failure("expected \(what)") }
            index += 1
        }

        mutating func object(depth: Int, keep: Bool) throws -> [(name: String, value: ArraySlice<UInt8>)] {
            guard depth < 32 else { throw failure("nested too deeply") }
            try expect(UInt8(ascii: "{"), "{")
            var members: [(name: String, value: ArraySlice<UInt8>)] = []
            var names = Set<String>()
            skipWhitespace()
            if peek == UInt8(ascii: "}") {
                index += 1
                return members
            }
            while true {
                skipWhitespace()
                let name = try string()
                // The name is not repeated in the error: it is input, and errors never carry input.
                guard names.insert(name).inserted else { throw failure("a duplicate member name") }
                skipWhitespace()
                try expect(UInt8(ascii: ":"), ":")
                skipWhitespace()
                let start = index
                try value(depth: depth + 1)
                if keep { members.append((name, bytes[start..<index])) }
                skipWhitespace()
                if peek == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                try expect(UInt8(ascii: "}"), ", or }")
                return members
            }
        }

        mutating func value(depth: Int) throws {
            switch peek {
            case UInt8(ascii: "{"): _ = try object(depth: depth, keep: false)
            case UInt8(ascii: "["): try array(depth: depth)
            case UInt8(ascii: "\""): _ = try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            default: try number()
            }
        }

        mutating func array(depth: Int) throws {
            guard depth < 32 else { throw failure("nested too deeply") }
            try expect(UInt8(ascii: "["), "[")
            skipWhitespace()
            if peek == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                try value(depth: depth + 1)
                skipWhitespace()
                if peek == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                try expect(UInt8(ascii: "]"), ", or ]")
                return
            }
        }

        mutating func literal(_ word: StaticString) throws {
            let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
            guard bytes[index...].starts(with: expected) else { throw failure("not a JSON value") }
            index += expected.count
        }

        /// number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT )
        mutating func number() throws {
            func digits() -> Int {
                let start = index
                while let byte = peek, byte >= 0x30 && byte <= 0x39 { index += 1 }
                return index - start
            }
            if peek == UInt8(ascii: "-") { index += 1 }
            if peek == UInt8(ascii: "0") {
                index += 1
                if let byte = peek, byte >= 0x30 && byte <= 0x39 { throw failure("a number with a leading zero") }
            } else if digits() == 0 {
                throw failure("not a JSON value")
            }
            if peek == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw failure("a fraction without digits") }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                index += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw failure("an exponent without digits") }
            }
        }

        /// A string, unescaped; its bytes must be valid UTF-8 and its escapes those of RFC 8259.
        mutating func string() throws -> String {
            try expect(UInt8(ascii: "\""), "a string")
            var scalars = String.UnicodeScalarView()
            var run = index
            func flush(_ end: Int) throws {
                guard run < end else { return }
                guard let text = String(validating: bytes[run..<end], as: UTF8.self) else {
                    throw failure("invalid UTF-8 in a string")
                }
                scalars.append(contentsOf: text.unicodeScalars)
            }
            while let byte = peek {
                switch byte {
                case UInt8(ascii: "\""):
                    try flush(index)
                    index += 1
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    try flush(index)
                    index += 1
                    scalars.append(try escape())
                    run = index
                case 0..<0x20:
                    throw failure("a control character in a string")
                default:
                    index += 1
                }
            }
            throw failure("an unterminated string")
        }

        mutating func escape() throws -> Unicode.Scalar {
            guard let byte = peek else { throw failure("an unterminated escape") }
            index += 1
            switch byte {
            case UInt8(ascii: "\""): return "\""
            case UInt8(ascii: "\\"): return "\\"
            case UInt8(ascii: "/"): return "/"
            case UInt8(ascii: "b"): return "\u{08}"
            case UInt8(ascii: "f"): return "\u{0C}"
            case UInt8(ascii: "n"): return "\n"
            case UInt8(ascii: "r"): return "\r"
            case UInt8(ascii: "t"): return "\t"
            case UInt8(ascii: "u"):
                let high = try hex4()
                if (0xD800..<0xDC00).contains(high) {
                    guard peek == UInt8(ascii: "\\"), index + 1 < bytes.endIndex, bytes[index + 1] == UInt8(ascii: "u")
                    else {
                        throw failure("a lone surrogate escape")
                    }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw failure("a lone surrogate escape") }
                    return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
                }
                guard let scalar = Unicode.Scalar(high) else { throw failure("a lone surrogate escape") }
                return scalar
            default:
                throw failure("an invalid escape")
            }
        }

        mutating func hex4() throws -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let byte = peek else { throw failure("an unterminated escape") }
                let digit: UInt8
                switch byte {
                case 0x30...0x39: digit = byte - 0x30
                case 0x41...0x46: digit = byte - 0x41 + 10
                case 0x61...0x66: digit = byte - 0x61 + 10
                default: throw failure("an invalid \\u escape")
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }
    }
}
