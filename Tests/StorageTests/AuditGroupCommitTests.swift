import AuditLog
import Dispatch
import Foundation
import Storage
import Synchronization
import Testing

/// The group commit both stores append through (``AuditGroupCommit``), on a writer that records
/// its groups and writes on a queue of its own, as the stores do.
@Suite struct AuditGroupCommitTests {
    func event(_ i: Int) -> AuditEvent {
        AuditEvent(
            time: Date(timeIntervalSince1970: 1_795_435_200),
            actor: nil,
            role: nil,
            action: .pull,
            object: "e\(i)",
            outcome: .success
        )
    }

    /// The groups a writer was given, in order.
    final class Groups: Sendable {
        let written = Mutex<[[String]]>([])
        var all: [[String]] { written.withLock { $0 } }
    }

    final class Steps: Sendable {
        private let taken = Mutex<[String]>([])
        func add(_ step: String) { taken.withLock { $0.append(step) } }
        var all: [String] { taken.withLock { $0 } }
    }

    /// A writer that takes `sync` per group on its own queue and records each group's objects;
    /// `fails` decides which groups fail.
    static func writer(
        recording groups: Groups,
        sync: DispatchTimeInterval,
        fails: @escaping @Sendable ([String]) -> Bool = { _ in false }
    ) -> AuditGroupCommit.Writer {
        let queue = DispatchQueue(label: "writer")
        struct SyncFailed: Error {}
        return { events, done in
            let objects = events.map(\.object)
            groups.written.withLock { $0.append(objects) }
            queue.asyncAfter(deadline: .now() + sync) { done(fails(objects) ? .failure(SyncFailed()) : .success(())) }
        }
    }

    @Test func appendsThatArriveWhileAGroupIsWrittenAreWrittenTogether() async throws {
        let groups = Groups()
        // A slow sync: whoever arrives meanwhile waits for the next group.
        let commit = AuditGroupCommit(writer: Self.writer(recording: groups, sync: .milliseconds(50)))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<50 { group.addTask { try await commit.append(self.event(i)) } }
            try await group.waitForAll()
        }
        let written = groups.all
        let objects = written.flatMap { $0 }
        do {
            let expected = (0..<50).map { "e\($0)" }.sorted()
            #expect(objects.sorted() == expected, "every event written once")
        }
        #expect(written.count < 10, "50 appends at once took \(written.count) writes")
    }

    @Test func theNextGroupStartsWhenAGroupIsWrittenBeforeItsAppendersAreTold() async throws {
        let steps = Steps()
        let firstDone = Mutex<(@Sendable (Result<Void, any Error>) -> Void)?>(nil)
        let (signals, signal) = AsyncStream.makeStream(of: String.self)
        let commit = AuditGroupCommit { events, done in
            let name = events.map(\.object).joined(separator: "+")
            steps.add("write \(name)")
            // The test finishes e0's write itself, once e1 waits; the others are written at once.
            if name == "e0" {
                firstDone.withLock { $0 = done }
                signal.yield("e0 writing")
            } else {
                done(.success(()))
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = signals.makeAsyncIterator()
            group.addTask {
                try await commit.append(self.event(0))
                steps.add("e0 returned")
            }
            _ = await next.next()
            group.addTask {
                signal.yield("e1 appending")
                try await commit.append(self.event(1))
            }
            _ = await next.next()
            try await Task.sleep(for: .milliseconds(200))  // e1 is waiting for the next group
            let done = firstDone.withLock { $0 }
            done?(.success(()))
            try await group.waitForAll()
        }
        let order = steps.all
        #expect(order == ["write e0", "write e1", "e0 returned"])
    }

    @Test func aFailedWriteFailsEveryEventOfItsGroupAndNoOther() async throws {
        let groups = Groups()
        let commit = AuditGroupCommit(
            writer: Self.writer(recording: groups, sync: .milliseconds(20)) { $0.contains("e3") }
        )
        let failed = try await withThrowingTaskGroup(of: String?.self) { group in
            for i in 0..<12 {
                group.addTask {
                    do {
                        try await commit.append(self.event(i))
                        return nil
                    } catch { return "e\(i)" }
                }
            }
            return try await group.reduce(into: Set<String>()) { if let f = $1 { $0.insert(f) } }
        }
        let poisoned = Set(groups.all.first { $0.contains("e3") } ?? [])
        #expect(
            !poisoned.isEmpty && failed == poisoned,
            "failed: \(failed.sorted()), the group that failed to write: \(poisoned.sorted())"
        )
        try await commit.append(event(12))
        do {
            let actual = groups.all.last
            #expect(actual == ["e12"])
        }
    }
}
