import Foundation
import Records
import Storage
import VangnetCore

extension DeliveryPage {
    /// One JSON object per line: `cursor`, `pseudonym`, `dataset`, then the purpose's fields
    /// (absent values as `null`).
    public func ndjson() -> String {
        var out = ""
        for record in records {
            var line = "{\"cursor\":\"\(record.cursor)\",\"pseudonym\":\"\(record.pseudonym.text)\",\"dataset\":\"\(record.dataset)\""
            for (name, value) in record.fields {
                line += ",\"\(name)\":" + json(value)
            }
            out += line + "}\n"
        }
        return out
    }

    /// CSV with a header row: `cursor,pseudonym,dataset` and then every field the purpose
    /// delivers over all its datasets; a field a record's dataset lacks is empty.
    public func csv() -> String {
        var out = (["cursor", "pseudonym", "dataset"] + columns).joined(separator: ",") + "\n"
        for record in records {
            let values = Dictionary(record.fields.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
            var row = [record.cursor.description, record.pseudonym.text, record.dataset.value]
            for column in columns {
                row.append(csvField(values[column] ?? nil))
            }
            out += row.joined(separator: ",") + "\n"
        }
        return out
    }

    private func json(_ value: FieldValue?) -> String {
        switch value {
        case nil: return "null"
        case .text(let s)?:
            var out: [UInt8] = []
            JSONText.appendString(s, to: &out)
            return String(decoding: out, as: UTF8.self)
        case .integer(let i)?: return String(i)
        case .boolean(let b)?: return b ? "true" : "false"
        }
    }

    private func csvField(_ value: FieldValue?) -> String {
        switch value {
        case nil: return ""
        case .integer(let i)?: return String(i)
        case .boolean(let b)?: return b ? "true" : "false"
        case .text(let s)?:
            guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
    }
}
