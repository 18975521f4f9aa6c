import Logging
import ServiceLifecycle

/// A gateway serving in the background of this process, for the demo and for tests.
///
/// ``stop()`` shuts it down gracefully: requests in flight finish, then the listener closes.
package final class RunningGateway: Sendable {
    /// The port the gateway listens on (the configured one, or the one the system chose for 0).
    package let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(port: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.group = group
        self.task = task
    }

    /// Starts `gateway` and returns once it listens.
    package static func start(_ gateway: Gateway) async throws -> RunningGateway {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let group = ServiceGroup(
            configuration: .init(services: try gateway.services { continuation.yield($0) }, logger: gateway.logger)
        )
        let task = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            try await task.value
            throw ConfigurationError("the gateway stopped before it listened")
        }
        return RunningGateway(port: port, group: group, task: task)
    }

    /// Shuts down gracefully and waits until it has.
    package func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}
