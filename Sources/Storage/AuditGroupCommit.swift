import AuditLog
import Synchronization

/// Group commit of audit appends, the same for every store: an event that arrives while a group
/// is being written waits for the next group, and each group is one write (one transaction, one
/// sync, one turn of the chain's lock; the last entry signed, which covers the others). An
/// append returns once its event is durable; if a group's write fails, every event of the group
/// fails with it, so no action goes on without its entry.
///
/// 32 regions pulling at once each append an entry before their page is answered: one at a time,
/// they queue on the chain (SQLite's one writer, PostgreSQL's lock on `audit`).
///
/// The writes run where the store writes (``Writer``: SQLite's writer queue, PostgreSQL's audit
/// writer), not in any appender's task: an appender whose request is cancelled cannot fail the
/// others' entries, and the moment a group is written the next one starts from there, without
/// waiting for a task to be scheduled. An appender waits on a continuation only.
package final class AuditGroupCommit: Sendable {
    /// Starts writing `events` (in order, all or none) and calls `done` once, when they are
    /// durable or have failed. Writes are started one at a time: the next once `done` is called.
    package typealias Writer =
        @Sendable (
            _ events: [AuditEvent], _ done: @escaping @Sendable (Result<Void, any Error>) -> Void
        ) -> Void

    private typealias Waiter = (event: AuditEvent, written: CheckedContinuation<Void, any Error>)

    private let start: Writer
    /// Events waiting for the next group, and whether a group is being written.
    private let queue = Mutex<(pending: [Waiter], writing: Bool)>(([], false))

    package init(writer: @escaping Writer) {
        start = writer
    }

    /// Appends `event` with whatever other events wait at the same moment.
    package func append(_ event: AuditEvent) async throws {
        try await withCheckedThrowingContinuation { (written: CheckedContinuation<Void, any Error>) in
            let group = queue.withLock { queue -> [Waiter]? in
                queue.pending.append((event, written))
                guard !queue.writing else { return nil }
                return Self.take(&queue)
            }
            if let group { write(group) }
        }
    }

    private func write(_ group: [Waiter]) {
        start(group.map(\.event)) { result in
            // What gathered meanwhile is written next, before this group's appenders are told.
            if let next = self.queue.withLock({ Self.take(&$0) }) { self.write(next) }
            for waiter in group { waiter.written.resume(with: result) }
        }
    }

    /// The pending events as the next group, marking a write as started; nil (and no write) if
    /// none are pending.
    private static func take(_ queue: inout (pending: [Waiter], writing: Bool)) -> [Waiter]? {
        queue.writing = !queue.pending.isEmpty
        guard queue.writing else { return nil }
        defer { queue.pending = [] }
        return queue.pending
    }
}
