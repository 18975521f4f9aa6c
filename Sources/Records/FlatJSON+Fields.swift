import VangnetCore

extension FlatJSON {
    /// Appends a field value as JSON.
    package static func appendValue(_ value: FieldValue, to out: inout [UInt8]) {
        switch value {
        case .text(let s): JSONText.appendString(s, to: &out)
        case .integer(let i): out.append(contentsOf: String(i).utf8)
        case .decimal(let d): out.append(contentsOf: d.utf8)
        case .boolean(let b): out.append(contentsOf: b ? [0x74, 0x72, 0x75, 0x65] : [0x66, 0x61, 0x6C, 0x73, 0x65])
        }
    }

    /// A flat object of these fields, members in name order.
    package static func encode(_ fields: [String: FieldValue]) -> String {
        var out: [UInt8] = [0x7B]
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
            if out.count > 1 { out.append(0x2C) }
            JSONText.appendString(name, to: &out)
            out.append(0x3A)
            appendValue(value, to: &out)
        }
        out.append(0x7D)
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes a stored flat object into field values (whole numbers as integers, others as decimals, nulls dropped).
    /// Stored objects are written by the validator, which admits no escaped strings.
    package static func decodeFields(_ text: String) -> [String: FieldValue] {
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
                case .number:
                    let text = String(decoding: raw, as: UTF8.self)
                    fields[key] = Int(text).map(FieldValue.integer) ?? .decimal(text)
                case .true: fields[key] = .boolean(true)
                case .false: fields[key] = .boolean(false)
                case .null, .escapedString: break
                }
            }
            return fields
        }
    }
}
