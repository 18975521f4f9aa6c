import Foundation
import Records
import Storage
import VangnetCore

extension DeliveryPage {
    /// One JSON object per line. Current: the record (`id`, `pseudonym`, `dataset`, then the
    /// purpose's fields, absent values as `null`). Changes: `"change":"upsert"` before the same
    /// members, or `{"change":"withdraw","id":...}`.
    public func ndjson() -> String {
        var out = ""
        out.reserveCapacity(lines.count * 200)
        for line in lines {
            switch (view, line.record) {
            case (.current, let record?):
                out += record
            case (.changes, let record?):
                out += "{\"change\":\"upsert\"," + record.dropFirst()
            case (_, nil):
                out += "{\"change\":\"withdraw\",\"id\":\"\(line.id)\"}"
            }
            out += "\n"
        }
        return out
    }

    /// CSV with a header row: (`change`, for changes), `id`, `pseudonym`, `dataset`, then every
    /// field the purpose delivers over all its datasets; a field a record's dataset lacks is empty,
    /// and a withdrawal has only `change` and `id`.
    public func csv() -> String {
        let head = (view == .changes ? ["change"] : []) + ["id", "pseudonym", "dataset"]
        var out = (head + columns).joined(separator: ",") + "\n"
        for line in lines {
            var row: [String] = []
            if let record = line.record {
                let values = FlatJSON.decodeFields(record)
                if view == .changes { row.append("upsert") }
                for name in ["id", "pseudonym", "dataset"] + columns { row.append(csvField(values[name])) }
            } else {
                row = ["withdraw", line.id] + Array(repeating: "", count: 2 + columns.count)
            }
            out += row.joined(separator: ",") + "\n"
        }
        return out
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
