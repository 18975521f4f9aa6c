/// A position in delivery order: batches in the order they were committed; within a batch,
/// records by region and then by line number (the order they are stored in). Because a batch
/// becomes visible whole and at once, a cursor never skips or repeats a record.
/// Text form `<batch>.<region>.<line>`, `0.0.0` before the first.
public struct DeliveryCursor: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let batch: Int64
    public let region: Int64
    public let record: Int64

    public static let start = DeliveryCursor(batch: 0, region: 0, record: 0)

    public init(batch: Int64, region: Int64, record: Int64) {
        self.batch = batch
        self.region = region
        self.record = record
    }

    /// Parses `<batch>.<region>.<line>`; `nil` for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map { Int64($0) }
        guard parts.count == 3, let b = parts[0], let g = parts[1], let r = parts[2], b >= 0, g >= 0, r >= 0 else { return nil }
        self.init(batch: b, region: g, record: r)
    }

    public var description: String { "\(batch).\(region).\(record)" }
    public static func < (a: Self, b: Self) -> Bool { (a.batch, a.region, a.record) < (b.batch, b.region, b.record) }
}
