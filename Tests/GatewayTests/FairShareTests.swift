@testable import Gateway
import Testing
import VangnetCore

/// The delivery slots share the work between callers: one region's parallel heavy pulls leave a
/// slot for another, and a freed slot goes to the caller running the fewest.
@Suite struct FairShareTests {
    let utrecht = OIN("00000099000000000219")!, amsterdam = OIN("00000099000000000221")!, rijnmond = OIN("00000099000000000229")!

    @Test func oneCallerCannotTakeEverySlot() {
        var state = FairShareState(slots: 3)
        // Utrecht pulls with four threads: two run, two wait.
        let utrechts = (0..<4).map { _ in state.request(utrecht) }
        #expect(Array(utrechts.prefix(2)) == [.run, .run])
        #expect(utrechts.dropFirst(2).allSatisfy { if case .wait = $0 { true } else { false } })
        // Amsterdam's request runs at once in the slot kept free.
        #expect(state.request(amsterdam) == .run)
    }

    @Test func aFreedSlotGoesToTheCallerRunningTheFewest() {
        var state = FairShareState(slots: 3)
        #expect(state.request(utrecht) == .run)
        #expect(state.request(utrecht) == .run)
        #expect(state.request(amsterdam) == .run)
        // All three slots busy: Utrecht queues first, then Amsterdam, then Rijnmond.
        guard case .wait(let utrechtTicket) = state.request(utrecht), case .wait(let amsterdamTicket) = state.request(amsterdam),
              case .wait(let rijnmondTicket) = state.request(rijnmond) else {
            Issue.record("expected all three to wait")
            return
        }
        // Amsterdam's page ends. Utrecht runs two, its most; Amsterdam and Rijnmond run none, and
        // Amsterdam queued first.
        let first = state.finish(amsterdam)
        #expect(first == [amsterdamTicket], "Amsterdam and Rijnmond both run none; Amsterdam queued first")
        let second = state.finish(utrecht)
        #expect(second == [rijnmondTicket], "Rijnmond runs none, Utrecht one: Rijnmond first, though Utrecht queued earlier")
        let third = state.finish(utrecht)
        #expect(third == [utrechtTicket])
    }

    @Test func aCallerAloneUsesAllButOneSlot() {
        var state = FairShareState(slots: 4)
        let decisions = (0..<4).map { _ in state.request(utrecht) }
        #expect(decisions.filter { $0 == .run }.count == 3)
        guard case .wait(let ticket) = decisions[3] else { Issue.record("the fourth should wait"); return }
        #expect(state.finish(utrecht) == [ticket], "its own next request runs when one of its pages ends")
    }

    @Test func waitingRequestsRunWhenTheirTurnComes() async throws {
        let share = FairShare(slots: 2)
        // Three concurrent pulls of one caller (one slot each, at most one at a time) all complete.
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<3 { group.addTask { try await share.run(for: utrecht) { try await Task.sleep(for: .milliseconds(20)); return i } } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.sorted() == [0, 1, 2])
    }
}
