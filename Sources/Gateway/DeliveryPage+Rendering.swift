import Foundation
import NIOCore
import Pseudonymisation
import Records
import Storage
import VangnetCore

extension DeliveryPage {
    /// One JSON object per line. Current: the record (`id`, `pseudonym`, `dataset`, then the
    /// purpose's fields, absent values as `null`). Changes: `"change":"upsert"` before the same
    /// members, or `{"change":"withdraw","id":...}`.
    ///
    /// Written into one buffer of the body's exact size: a page of 10,000 is some 2 MB, and a
    /// string grown line by line and then copied into the response cost two more copies of it.
    package func ndjson() -> ByteBuffer {
        let upsert = #"{"change":"upsert","#
        let withdraw = (#"{"change":"withdraw","id":""#, "\"}\n")
        var size = 0
        for row in rows {
            switch (view, rows.lineCount(row)) {
            case (.current, let count?): size += count + 1
            case (.changes, let count?): size += upsert.utf8.count + count
            // vr1.<hex>
            case (_, nil): size += withdraw.0.utf8.count + 4 + 2 * rows.item(row).count + withdraw.1.utf8.count
            }
        }
        var out = ByteBuffer()
        out.reserveCapacity(size)
        for row in rows {
            switch (view, rows.line(row)) {
            case (.current, let record?):
                out.writeBytes(record)
            case (.changes, let record?):
                out.writeString(upsert)
                out.writeBytes(record.dropFirst())
            case (_, nil):
                out.writeString(withdraw.0)
                out.writeString(Pseudonymiser.deliveryRecordID(digest: Array(rows.item(row))))
                out.writeString(withdraw.1)
                continue
            }
            out.writeInteger(UInt8(ascii: "\n"))
        }
        return out
    }

    /// CSV with a header row: (`change`, for changes), `id`, `pseudonym`, `dataset`, then every
    /// field the purpose delivers over all its datasets; a field a record's dataset lacks is empty,
    /// and a withdrawal has only `change` and `id`.
    package func csv() -> ByteBuffer { ByteBuffer(string: csvText()) }

    private func csvText() -> String {
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
        case .decimal(let d)?: return d
        case .boolean(let b)?: return b ? "true" : "false"
        case .text(let s)?:
            guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
    }
}
