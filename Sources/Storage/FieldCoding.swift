import Records

/// Encodes and decodes a record's fields as one flat JSON object (the `fields` column).
enum FieldCoding {
    static func encode(_ fields: [String: FieldValue]) -> String {
        var out = "{"
        for (index, name) in fields.keys.sorted().enumerated() {
            if index > 0 { out += "," }
            appendString(name, to: &out)
            out += ":"
            switch fields[name]! {
            case .text(let s): appendString(s, to: &out)
            case .integer(let i): out += String(i)
            case .boolean(let b): out += b ? "true" : "false"
            }
        }
        return out + "}"
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
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += unicodeEscape(scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
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
