import Storage
import Testing

/// A read's rows in one buffer (``DeliveryRows``): each row gives back exactly its own
/// identifier and line, withdrawals stay withdrawals, and cutting and ordering move rows whole.
@Suite struct DeliveryRowsTests {
    static func rows(_ values: [(seq: Int64, item: [UInt8], line: String?)]) -> DeliveryRows {
        var builder = DeliveryRows.Builder(capacity: values.count)
        for value in values {
            value.item.withUnsafeBytes { item in
                if let line = value.line {
                    Array(line.utf8).withUnsafeBytes { builder.append(seq: value.seq, item: item, line: $0) }
                } else {
                    builder.append(seq: value.seq, item: item, line: nil)
                }
            }
        }
        return builder.finish()
    }

    static let values: [(seq: Int64, item: [UInt8], line: String?)] = [
        (7, [3, 3], #"{"id":"c","naam":"é"}"#),
        (5, [1, 9, 9], nil),
        (9, [2], ""),
        (6, [1, 2], #"{"id":"a"}"#),
    ]

    @Test func eachRowGivesBackItsOwnIdentifierAndLine() {
        let rows = Self.rows(Self.values).rows
        #expect(rows.map(\.seq) == [7, 5, 9, 6])
        #expect(rows.map(\.item) == [[3, 3], [1, 9, 9], [2], [1, 2]])
        #expect(rows.map(\.line) == [#"{"id":"c","naam":"é"}"#, nil, "", #"{"id":"a"}"#])
    }

    @Test func aWithdrawalHasNoLineAndAnEmptyLineIsALine() {
        let rows = Self.rows(Self.values)
        #expect(rows.lineCount(rows[1]) == nil)
        #expect(rows.line(rows[1]) == nil)
        #expect(rows.lineCount(rows[2]) == 0)
        #expect(rows.lineCount(rows[0]) == #"{"id":"c","naam":"é"}"#.utf8.count)
    }

    @Test func keepingTheFirstRowsAndOrderingByIdentifierMoveRowsWhole() {
        var rows = Self.rows(Self.values)
        rows.sortByItem()
        #expect(rows.rows.map(\.item) == [[1, 2], [1, 9, 9], [2], [3, 3]])
        #expect(rows.rows.map(\.seq) == [6, 5, 9, 7])
        #expect(rows.rows.map(\.line) == [#"{"id":"a"}"#, nil, "", #"{"id":"c","naam":"é"}"#])
        rows.keepFirst(2)
        #expect(rows.rows.map(\.seq) == [6, 5])
        rows.keepFirst(5)
        #expect(rows.count == 2)
    }

    @Test func noRows() {
        let rows = Self.rows([])
        #expect(rows.isEmpty)
        #expect(rows.rows.isEmpty)
    }
}
