import Foundation
import ServiceLifecycle
import Storage
import VangnetCore

/// Signs a checkpoint of the audit chain's head every `interval` while entries are being added
/// (the store also signs one every N entries), and a last one at shutdown.
struct AuditCheckpointService: Service {
    let store: any RecordStore
    let clock: any WallClock
    let interval: Duration

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: interval)
                    try await store.checkpointAudit(at: clock.now())
                }
            }
        } catch is CancellationError {
            // Graceful shutdown.
        }
        try await store.checkpointAudit(at: clock.now())
    }
}
