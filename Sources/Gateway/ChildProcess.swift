import Foundation
import Synchronization

/// Runs blocking work (reading a pipe, waiting for a child to exit) on a thread of its own.
///
/// Swift's cooperative pool has one thread per core: two cores, two threads. A blocking call on
/// one of them while the other waits on a gateway in the same process can stall both for good, so
/// nothing that blocks runs there.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result(catching: work)) }.start()
    }
}

/// Starts `process`, one start at a time in this process: Foundation's `Process.run()` on Linux
/// was seen to crash (a bad pointer while it copies the arguments and environment) when two
/// threads start children at the same moment.
public func startSerially(_ process: Process) throws {
    try spawnLock.withLock { _ in try process.run() }
}

private let spawnLock = Mutex(())

/// A child process started with its standard output and error captured; its output is read and
/// its exit awaited off the cooperative pool.
public final class ChildProcess: @unchecked Sendable {
    /// What a finished child left behind.
    public struct Finished: Sendable {
        public let status: Int32
        public let output: String
        public let errors: String
    }

    public let process = Process()
    private let output = Pipe(), errors: Pipe?

    /// Starts `executable arguments`, with `environment` added to this process's environment.
    /// With `discardErrors`, standard error goes nowhere: for tools whose helpers outlive them
    /// and keep it open (Chromium, gpg-agent), where reading it to its end would never end.
    public init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], discardErrors: Bool = false) throws {
        errors = discardErrors ? nil : Pipe()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = output
        process.standardError = errors ?? FileHandle.nullDevice
        try startSerially(process)
    }

    /// Runs `executable arguments` to completion.
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:],
                           discardErrors: Bool = false) async throws -> Finished {
        try await ChildProcess(executable, arguments, environment: environment, discardErrors: discardErrors).finished()
    }

    /// Reads both streams to their end and waits for the exit.
    public func finished() async throws -> Finished {
        let errorBytes = errors.map { pipe in Task { try await onOwnThread { pipe.fileHandleForReading.readDataToEndOfFile() } } }
        let outputBytes = try await onOwnThread { self.output.fileHandleForReading.readDataToEndOfFile() }
        let status = try await onOwnThread { self.process.waitUntilExit(); return self.process.terminationStatus }
        return Finished(status: status, output: String(decoding: outputBytes, as: UTF8.self),
                        errors: String(decoding: try await errorBytes?.value ?? Data(), as: UTF8.self))
    }
}
