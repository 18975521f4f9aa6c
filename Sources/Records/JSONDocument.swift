import VangnetCore

/// A JSON value to be written, object members in the order given: documents the gateway
/// publishes (the dataset schemas), where the order is part of what a reader sees.
package indirect enum JSONDocument: Sendable {
    case object([(String, JSONDocument)])
    case array([JSONDocument])
    case string(String)
    /// A number, as its JSON text.
    case number(String)
    case boolean(Bool)
    case null

    package static func number(_ n: Int) -> JSONDocument { .number(String(n)) }

    package static func strings(_ values: [String]) -> JSONDocument { .array(values.map(JSONDocument.string)) }

    /// The document indented by two spaces, one member per line; an array of plain values on one
    /// line while it fits in 100 columns, otherwise as many to a line as fit. Ends with a newline.
    package func rendered() -> String {
        var out: [UInt8] = []
        write(to: &out, indent: 0)
        out.append(0x0A)
        return String(decoding: out, as: UTF8.self)
    }

    private var isScalar: Bool {
        switch self {
        case .object, .array: false
        default: true
        }
    }

    private func write(to out: inout [UInt8], indent: Int) {
        let inner = Array(repeating: UInt8(0x20), count: indent + 2)
        switch self {
        case .string(let s): JSONText.appendString(s, to: &out)
        case .number(let n): out.append(contentsOf: n.utf8)
        case .boolean(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .null: out.append(contentsOf: "null".utf8)
        case .object(let members):
            guard !members.isEmpty else { return out.append(contentsOf: "{}".utf8) }
            out.append(contentsOf: "{\n".utf8)
            for (k, (name, value)) in members.enumerated() {
                out.append(contentsOf: inner)
                JSONText.appendString(name, to: &out)
                out.append(contentsOf: ": ".utf8)
                value.write(to: &out, indent: indent + 2)
                out.append(contentsOf: (k == members.count - 1 ? "\n" : ",\n").utf8)
            }
            out.append(contentsOf: Array(repeating: UInt8(0x20), count: indent))
            out.append(0x7D)
        case .array(let values):
            var line: [UInt8] = [0x5B]
            if values.allSatisfy(\.isScalar) {
                for (k, value) in values.enumerated() {
                    if k > 0 { line.append(contentsOf: ", ".utf8) }
                    value.write(to: &line, indent: 0)
                }
                line.append(0x5D)
                if indent + line.count <= 100 { return out.append(contentsOf: line) }
                // Too long for one line: as many values to a line as fit.
                out.append(contentsOf: "[\n".utf8)
                var row: [UInt8] = inner
                for (k, value) in values.enumerated() {
                    var item: [UInt8] = []
                    value.write(to: &item, indent: 0)
                    if k < values.count - 1 { item.append(0x2C) }
                    if row.count > inner.count, row.count + 1 + item.count > 100 {
                        out.append(contentsOf: row + [0x0A])
                        row = inner
                    }
                    if row.count > inner.count { row.append(0x20) }
                    row.append(contentsOf: item)
                }
                out.append(contentsOf: row + [0x0A])
                out.append(contentsOf: Array(repeating: UInt8(0x20), count: indent))
                return out.append(0x5D)
            }
            out.append(contentsOf: "[\n".utf8)
            for (k, value) in values.enumerated() {
                out.append(contentsOf: inner)
                value.write(to: &out, indent: indent + 2)
                out.append(contentsOf: (k == values.count - 1 ? "\n" : ",\n").utf8)
            }
            out.append(contentsOf: Array(repeating: UInt8(0x20), count: indent))
            out.append(0x5D)
        }
    }
}
