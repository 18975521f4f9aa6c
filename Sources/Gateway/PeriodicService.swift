import Logging
import ServiceLifecycle

/// Work the gateway repeats on a timer while it serves: audit checkpoints, retention purges and
/// revocation list checks. A failed round is logged and the next one comes; `atShutdown` runs
/// once when the service group stops.
struct PeriodicService: Service {
    let name: String
    let interval: Duration
    let logger: Logger
    var atStart = false
    var atShutdown: (@Sendable () async throws -> Void)?
    let work: @Sendable () async throws -> Void

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                if atStart { await round() }
                while true {
                    try await Task.sleep(for: interval)
                    await round()
                }
            }
        } catch is CancellationError {
            // Graceful shutdown.
        }
        try await atShutdown?()
    }

    private func round() async {
        do { try await work() } catch {
            logger.error("\(name) failed", metadata: ["error.type": "\(type(of: error))"])
        }
    }
}
