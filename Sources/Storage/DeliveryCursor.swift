/// A position in delivery order: batches in the order they were committed, records in the order
/// of their batch (by line number). Because a batch becomes visible whole and at once, a cursor
/// never skips or repeats a record. Text form `<batch>.<line>`, `0.0` before the first.
public struct DeliveryCursor: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let batch: Int64
    public let record: Int64

    public static let start = DeliveryCursor(batch: 0, record: 0)

    public init(batch: Int64, record: Int64) {
        self.batch = batch
        self.record = record
    }

    /// Parses `<batch>.<record>`; `nil` for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let b = Int64(parts[0]), let r = Int64(parts[1]), b >= 0, r >= 0 else { return nil }
        self.init(batch: b, record: r)
    }

    public var description: String { "\(batch).\(record)" }
    public static func < (a: Self, b: Self) -> Bool { (a.batch, a.record) < (b.batch, b.record) }
}
