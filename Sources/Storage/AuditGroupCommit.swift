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
///
/// Structured: each group is written in the task of one of its own appenders, its leader (the
/// first of the group), which hands the events that gathered meanwhile to the first of them as
/// the next group before it returns. No task outlives an append, and none writes more than its
/// own group.
package final class AuditGroupCommit: Sendable {
    private typealias Waiter = (event: AuditEvent, turn: CheckedContinuation<Turn, any Error>)

    /// What an append is told when its turn comes: its event was written by its group's leader,
    /// or it leads a group (itself first) and writes it.
    private enum Turn {
        case written
        case lead([Waiter])
    }

    private let write: @Sendable ([AuditEvent]) async throws -> Void
    /// Events waiting for the next group, and whether a group is being written.
    private let queue = Mutex<(pending: [Waiter], writing: Bool)>(([], false))

    /// `write` appends the events in order, all or none.
    package init(write: @escaping @Sendable ([AuditEvent]) async throws -> Void) {
        self.write = write
    }

    /// Appends `event` with whatever other events wait at the same moment.
    package func append(_ event: AuditEvent) async throws {
        let turn = try await withCheckedThrowingContinuation { (turn: CheckedContinuation<Turn, any Error>) in
            // Nothing is pending while no group is being written, so a leader's group is itself.
            let lead = queue.withLock { queue -> Bool in
                guard queue.writing else {
                    queue.writing = true
                    return true
                }
                queue.pending.append((event, turn))
                return false
            }
            if lead { turn.resume(returning: .lead([(event, turn)])) }
        }
        guard case .lead(let group) = turn else { return }
        try await lead(group)
    }

    /// Writes `group` (its first waiter is this task's own append), hands what gathered meanwhile
    /// to the next leader, and tells the rest of the group how their write went.
    private func lead(_ group: [Waiter]) async throws {
        var failure: (any Error)?
        do { try await write(group.map(\.event)) } catch { failure = error }
        let next = queue.withLock { queue -> [Waiter]? in
            guard !queue.pending.isEmpty else {
                queue.writing = false
                return nil
            }
            defer { queue.pending = [] }
            return queue.pending
        }
        if let next { next[0].turn.resume(returning: .lead(next)) }
        for waiter in group.dropFirst() {
            if let failure { waiter.turn.resume(throwing: failure) } else { waiter.turn.resume(returning: .written) }
        }
        if let failure { throw failure }
    }
}
