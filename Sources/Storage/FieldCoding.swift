import Records

/// Encodes and decodes a record's fields as one flat JSON object (the `fields` column).
enum FieldCoding {
    /// The fields as one flat JSON object with sorted keys, built as bytes (this runs once per
    /// stored record, so it avoids per-character `String` appends).
    static func encode(_ fields: [String: FieldValue]) -> String {
        var out: [UInt8] = [0x7B]
        out.reserveCapacity(256)
        for (index, name) in fields.keys.sorted().enumerated() {
            if index > 0 { out.append(0x2C) }
            appendString(name, to: &out)
            out.append(0x3A)
            switch fields[name]! {
            case .text(let s): appendString(s, to: &out)
            case .integer(let i): out.append(contentsOf: String(i).utf8)
            case .boolean(let b): out.append(contentsOf: b ? Array("true".utf8) : Array("false".utf8))
            }
        }
        out.append(0x7D)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(0x22)
        for byte in s.utf8 {
            switch byte {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: out.append(contentsOf: [0x5C, 0x72])
            case 0x09: out.append(contentsOf: [0x5C, 0x74])
            case 0..<0x20: out.append(contentsOf: Array(unicodeEscape(UInt32(byte)).utf8))
            default: out.append(byte)
            }
        }
        out.append(0x22)
    }

    static func decode(_ text: String) -> [String: FieldValue] {
        var copy = text
        let pairs = copy.withUTF8 { (try? FlatJSON.parseObject(UnsafeRawBufferPointer($0))) ?? [] }
        var fields: [String: FieldValue] = [:]
        for (key, value) in pairs {
            switch value {
            case .string(let s): fields[key] = .text(s)
            case .number(let n): fields[key] = Int(n).map(FieldValue.integer)
            case .bool(let b): fields[key] = .boolean(b)
            case .null: break
            }
        }
        return fields
    }

    static func appendString(_ s: String, to out: inout String) {
        var bytes: [UInt8] = []
        appendString(s, to: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }

    private static func unicodeEscape(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}

/// JSON string escaping, shared with the delivery renderer.
public enum JSONText {
    /// Appends `s` as a JSON string literal.
    public static func appendString(_ s: String, to out: inout String) { FieldCoding.appendString(s, to: &out) }
}
