import Storage
import Testing

/// Cursors as text: the store's behaviour (staging, commits, delivery order) is in
/// ``StoreBehaviourTests``, run against every store.
@Suite struct CursorTests {
    @Test(arguments: ["", "1", "1.", ".1", "a.b", "-1.0.0", "1.2", "1.2.3.4", "1..3"])
    func malformedCursorIsRefused(_ text: String) {
        #expect(DeliveryCursor(text) == nil)
    }

    @Test func cursorsRoundTripAndOrderByBatchRegionLine() {
        let cursors = [DeliveryCursor(batch: 2, region: 1, record: 9), DeliveryCursor(batch: 1, region: 21, record: 1), DeliveryCursor(batch: 1, region: 19, record: 30)]
        #expect(cursors.map { DeliveryCursor($0.description) } == cursors)
        #expect(cursors.sorted().map(\.description) == ["1.19.30", "1.21.1", "2.1.9"])
        #expect(DeliveryCursor.start.description == "0.0.0")
    }
}
