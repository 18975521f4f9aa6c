import Logging
import ServiceLifecycle

extension Gateway {
    /// Serves for the length of `body`, which gets the port the gateway listens on (the configured
    /// one, or the one the system chose for 0): for the demo and for tests; `vangnet serve` runs
    /// ``runUntilSignalled()``. Afterwards the gateway shuts down gracefully (requests in flight
    /// finish, then the listener closes) and this returns once it has. The service group runs in a
    /// child task of this call, so nothing of the gateway outlives it.
    package func serving<R>(_ body: (_ port: Int) async throws -> R) async throws -> R {
        let (ports, listening) = AsyncStream.makeStream(of: Int.self)
        return try await withServiceGroup(
            try services { listening.yield($0) },
            logger: logger,
            ended: { listening.finish() }
        ) {
            var port = ports.makeAsyncIterator()
            guard let port = await port.next() else {
                throw ConfigurationError("the gateway stopped before it listened")
            }
            return try await body(port)
        }
    }
}

/// Runs `services` as one service group for the length of `body`: in a child task, running
/// before `body` starts, shut down gracefully when `body` returns or throws, and waited for.
/// `ended` is called when the group has stopped, whether `body` is done or not (so a `body`
/// waiting for something of the group does not wait forever). A failure of the group is thrown
/// after `body`'s result or failure is in.
package func withServiceGroup<R>(
    _ services: [any Service],
    logger: Logger,
    ended: @escaping @Sendable () -> Void = {},
    _ body: () async throws -> R
) async throws -> R {
    let (started, running) = AsyncStream.makeStream(of: Void.self)
    let group = ServiceGroup(
        configuration: .init(services: services + [Running(started: running)], logger: logger)
    )
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask {
            defer {
                running.finish()
                ended()
            }
            try await group.run()
        }
        // A shutdown triggered before the group runs would leave it running.
        for await _ in started { break }
        let result: Result<R, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        await group.triggerGracefulShutdown()
        let stopped: Result<Void, any Error>
        do { stopped = .success(try await tasks.waitForAll()) } catch { stopped = .failure(error) }
        let value = try result.get()
        try stopped.get()
        return value
    }
}

/// Tells ``withServiceGroup(_:logger:ended:_:)`` that the group runs, then waits for the shutdown.
private struct Running: Service {
    let started: AsyncStream<Void>.Continuation

    func run() async throws {
        started.finish()
        try? await gracefulShutdown()
    }
}
