import ServiceLifecycle
import UnixSignals

/// Reloads the gateway's configuration at every SIGHUP (swift-service-lifecycle's signal
/// sequence) until its service group shuts down, reporting each outcome to `reported`.
struct ReloadOnHangup: Service {
    let gateway: Gateway
    let reported: @Sendable (Result<ActivePolicy, any Error>) async -> Void

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            do {
                await reported(.success(try await gateway.reload()))
            } catch {
                await reported(.failure(error))
            }
        }
    }
}
