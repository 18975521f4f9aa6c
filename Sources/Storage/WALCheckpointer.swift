import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Copies the write-ahead log into the database on a thread of its own, so that no commit waits
/// for it. SQLite's own automatic checkpoint runs inside the commit that crosses the threshold:
/// after a large batch (a million records leave about 1.3 GB of log) the batch's receipt, and every
/// pull's audit entry queued behind the writer, waited seconds for the copy. Here the writer's
/// WAL hook only signals; a passive checkpoint (it never blocks readers or the writer) runs on its
/// own connection, one at a time. Durability is the commit's (synchronous FULL syncs the log);
/// a checkpoint only moves committed pages, and a crash during one is SQLite's to recover.
final class WALCheckpointer: Sendable {
    private let path: String
    private let pages: Int32
    private let scheduled = Atomic(false)
    private static let queue = DispatchQueue(label: "vangnet.sqlite.checkpoint", qos: .utility)

    /// Checkpoints once the log holds more than `pages` pages.
    init(path: String, pages: Int32) {
        (self.path, self.pages) = (path, pages)
    }

    /// Installs the hook on the writer's connection. The hook's context is retained for the
    /// process's life (a few bytes per store opened): a connection may outlive any owner.
    func install(on db: Database) {
        let context = Unmanaged.passRetained(self).toOpaque()
        sqlite3_wal_hook(
            db.sqliteConnection,
            { context, _, _, pages in
                let checkpointer = Unmanaged<WALCheckpointer>.fromOpaque(context!).takeUnretainedValue()
                if pages > checkpointer.pages { checkpointer.schedule() }
                return SQLITE_OK
            },
            context
        )
    }

    private func schedule() {
        guard scheduled.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        Self.queue.async {
            self.scheduled.store(false, ordering: .releasing)
            self.checkpoint()
        }
    }

    /// Cuts the log file back to nothing (the daily step asks): first everything in it is copied
    /// without blocking anyone, then the file is truncated if no commit or reader needs it within
    /// 100 ms. The truncation holds commits while it runs (half a second for gigabytes), so it
    /// happens once a day rather than after every checkpoint; when the gateway is busy it gives
    /// up, and the next day tries again (so does a day whose step ran inside a commit, which
    /// brings the index to the day itself).
    func cutBack() {
        Self.queue.async { self.checkpoint(thenTruncate: true) }
    }

    /// One passive checkpoint on a connection of its own (gone, or busy: the next commit asks
    /// again), and the truncation if asked.
    private func checkpoint(thenTruncate truncate: Bool = false) {
        var db: OpaquePointer?
        defer { sqlite3_close(db) }
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK else { return }
        sqlite3_busy_timeout(db, 1_000)
        // A connection finds the log when it first reads the database.
        guard sqlite3_exec(db, "SELECT 1 FROM sqlite_schema LIMIT 1", nil, nil, nil) == SQLITE_OK else { return }
        var log: Int32 = 0
        var copied: Int32 = 0
        guard sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, &log, &copied) == SQLITE_OK, truncate,
            log == copied
        else { return }
        sqlite3_busy_timeout(db, 100)
        _ = sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_TRUNCATE, nil, nil)
    }
}
