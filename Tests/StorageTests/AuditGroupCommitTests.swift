import AuditLog
import Foundation
import Storage
import Synchronization
import Testing

/// The group commit both stores append through (``AuditGroupCommit``), on a write that records
/// its groups.
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

    @Test func appendsThatArriveWhileAGroupIsWrittenAreWrittenTogether() async throws {
        let groups = Mutex<[[String]]>([])
        let commit = AuditGroupCommit { events in
            groups.withLock { $0.append(events.map(\.object)) }
            // A slow sync: whoever arrives meanwhile waits for the next group.
            try await Task.sleep(for: .milliseconds(50))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<50 { group.addTask { try await commit.append(self.event(i)) } }
            try await group.waitForAll()
        }
        let written = groups.withLock { $0 }
        let objects = written.flatMap { $0 }
        do {
            let expected = (0..<50).map { "e\($0)" }.sorted()
            #expect(objects.sorted() == expected, "every event written once")
        }
        #expect(written.count < 10, "50 appends at once took \(written.count) writes")
    }

    @TaskLocal static var appender: String?

    @Test func eachGroupIsWrittenInTheTaskOfOneOfItsOwnAppendersAndNoTaskWritesTwo() async throws {
        let writes = Mutex<[(writer: String?, group: [String])]>([])
        let commit = AuditGroupCommit { events in
            writes.withLock { $0.append((Self.appender, events.map(\.object))) }
            try await Task.sleep(for: .milliseconds(20))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<40 {
                group.addTask { try await Self.$appender.withValue("e\(i)") { try await commit.append(self.event(i)) } }
                if i % 8 == 0 { try await Task.sleep(for: .milliseconds(5)) }
            }
            try await group.waitForAll()
        }
        let written = writes.withLock { $0 }
        let strangers = written.filter { write in !write.group.contains { $0 == write.writer } }.map(\.group)
        #expect(strangers.isEmpty, "groups written outside their appenders' tasks: \(strangers)")
        let writers = written.compactMap(\.writer)
        #expect(Set(writers).count == writers.count, "a task wrote more than one group: \(writers.sorted())")
        #expect(written.count > 1, "the appends came in several groups")
        #expect(written.flatMap(\.group).count == 40)
    }

    @Test func aFailedWriteFailsEveryEventOfItsGroupAndNoOther() async throws {
        struct SyncFailed: Error {}
        let groups = Mutex<[[String]]>([])
        let commit = AuditGroupCommit { events in
            let objects = events.map(\.object)
            groups.withLock { $0.append(objects) }
            try await Task.sleep(for: .milliseconds(20))
            if objects.contains("e3") { throw SyncFailed() }
        }
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
        let poisoned = Set(groups.withLock { $0 }.first { $0.contains("e3") } ?? [])
        #expect(
            !poisoned.isEmpty && failed == poisoned,
            "failed: \(failed.sorted()), the group that failed to write: \(poisoned.sorted())"
        )
        try await commit.append(event(12))
        do {
            let actual = groups.withLock { $0 }.last
            #expect(actual == ["e12"])
        }
    }
}
