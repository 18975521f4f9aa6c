extension FlatJSON {
    /// Appends `s` as a JSON string literal to `out`.
    public static func appendString(_ s: String, to out: inout [UInt8]) {
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

    /// Appends a field value as JSON.
    public static func appendValue(_ value: FieldValue, to out: inout [UInt8]) {
        switch value {
        case .text(let s): appendString(s, to: &out)
        case .integer(let i): out.append(contentsOf: String(i).utf8)
        case .boolean(let b): out.append(contentsOf: b ? [0x74, 0x72, 0x75, 0x65] : [0x66, 0x61, 0x6C, 0x73, 0x65])
        }
    }

    /// Decodes a stored flat object into field values (numbers as integers, nulls dropped).
    /// Stored objects are written by the validator, which admits no escaped strings.
    public static func decodeFields(_ text: String) -> [String: FieldValue] {
        var copy = text
        return copy.withUTF8 { utf8 in
            let bytes = UnsafeRawBufferPointer(utf8)
            var pairs: [RawPair] = []
            guard (try? scanObject(bytes, into: &pairs)) != nil else { return [:] }
            var fields: [String: FieldValue] = [:]
            for pair in pairs {
                let key = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[pair.key]), as: UTF8.self)
                let raw = UnsafeRawBufferPointer(rebasing: bytes[pair.value])
                switch pair.kind {
                case .string: fields[key] = .text(String(decoding: raw, as: UTF8.self))
                case .number: fields[key] = Int(String(decoding: raw, as: UTF8.self)).map(FieldValue.integer)
                case .true: fields[key] = .boolean(true)
                case .false: fields[key] = .boolean(false)
                case .null, .escapedString: break
                }
            }
            return fields
        }
    }
}
