import AuditLog
import Synchronization

/// Group commit of audit appends, the same for every store: an event that arrives while a group
/// is being written waits for the next group, and each group is one call of `write` (one
/// transaction, one sync, one turn of the chain's lock; the last entry signed, which covers the
/// others). An append returns once its event is durable; if a group's write fails, every event of
/// the group fails with it, so no action goes on without its entry.
///
/// 32 regions pulling at once each append an entry before their page is answered: one at a time,
/// they queue on the chain (SQLite's one writer, PostgreSQL's lock on `audit`).
package final class AuditGroupCommit: Sendable {
    private let write: @Sendable ([AuditEvent]) async throws -> Void
    /// Events waiting for the next group, and whether a group is being written.
    private let queue = Mutex<(pending: [(AuditEvent, CheckedContinuation<Void, any Error>)], writing: Bool)>(
        ([], false)
    )

    /// `write` appends the events in order, all or none.
    package init(write: @escaping @Sendable ([AuditEvent]) async throws -> Void) {
        self.write = write
    }

    /// Appends `event` with whatever other events wait at the same moment.
    package func append(_ event: AuditEvent) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let lead = queue.withLock { queue -> Bool in
                queue.pending.append((event, continuation))
                guard !queue.writing else { return false }
                queue.writing = true
                return true
            }
            if lead { Task { await self.drain() } }
        }
    }

    private func drain() async {
        while true {
            let group = queue.withLock { queue in
                let group = queue.pending
                queue.pending = []
                if group.isEmpty { queue.writing = false }
                return group
            }
            guard !group.isEmpty else { return }
            do {
                try await write(group.map(\.0))
                for (_, waiter) in group { waiter.resume() }
            } catch {
                for (_, waiter) in group { waiter.resume(throwing: error) }
            }
        }
    }
}
