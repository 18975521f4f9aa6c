import CSpawn
import Foundation
import Gateway
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work (reading a pipe, waiting for a child to exit) on a thread of its own.
///
/// Swift's cooperative pool has one thread per core: two cores, two threads. A blocking call on
/// one of them while the other waits on a gateway in the same process can stall both for good, so
/// nothing that blocks runs there.
package func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result(catching: work)) }.start()
    }
}

/// A child process started with `posix_spawn`.
///
/// Not Foundation's `Process`: on Linux its `run()` copies each entry of `/proc/self/fd` as a
/// whole 256-byte name, which reads past the end of glibc's buffer and now and then crashes the
/// caller (1 run in 5 of this suite; swift-corelibs-foundation pull request 5472, after Swift
/// 6.3.1). Here the child gets `/dev/null` as its input, the streams asked for as output and
/// error, default signal handling and an empty signal mask, and no other descriptor.
package final class Spawned: Sendable {
    /// Where a child's standard output or error goes.
    package enum Stream: Sendable {
        /// To a pipe whose read end the caller gets.
        case pipe
        /// To `/dev/null`.
        case discard
    }

    package let processIdentifier: pid_t
    /// The read ends of the pipes asked for; `nil` where the stream is discarded.
    package let standardOutput: FileHandle?, standardError: FileHandle?
    /// The exit status once the child is reaped; reaping happens here only, under this lock, so a
    /// signal never reaches a reused process id.
    private let status = Mutex<Int32?>(nil)

    /// Starts `executable` (a path, not looked up in `PATH`) with `arguments` and exactly
    /// `environment`.
    package init(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String],
        output: Stream = .pipe,
        errors: Stream = .pipe
    ) throws {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        var pipes: [(read: Int32, write: Int32)?] = []
        var started = false
        defer {
            // The child has its own copies of the write ends; the read ends stay only if it started.
            for pipe in pipes {
                if let pipe {
                    close(pipe.write)
                    if !started { close(pipe.read) }
                }
            }
        }
        /// Every call here answers 0 or an error number.
        func check(_ result: Int32) throws {
            guard result == 0 else { throw SpawnError(executable: executable, code: result) }
        }

        try check(posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0))
        for (descriptor, stream) in [(Int32(1), output), (2, errors)] {
            switch stream {
            case .discard:
                try check(posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", O_WRONLY, 0))
                pipes.append(nil)
            case .pipe:
                var ends: [Int32] = [-1, -1]
                try check(vangnet_pipe_cloexec(&ends) == 0 ? 0 : errno)
                pipes.append((ends[0], ends[1]))
                try check(posix_spawn_file_actions_adddup2(&actions, ends[1], descriptor))
            }
        }
        try check(vangnet_spawn_closefrom(&actions, 3))

        var everySignal = sigset_t()
        var noSignal = sigset_t()
        sigfillset(&everySignal)
        sigemptyset(&noSignal)
        try check(posix_spawnattr_setsigdefault(&attributes, &everySignal))
        try check(posix_spawnattr_setsigmask(&attributes, &noSignal))
        try check(posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for string in argv + envp { free(string) } }
        var pid: pid_t = 0
        try check(posix_spawn(&pid, executable, &actions, &attributes, argv, envp))
        started = true
        processIdentifier = pid
        standardOutput = pipes[0].map { FileHandle(fileDescriptor: $0.read, closeOnDealloc: true) }
        standardError = pipes[1].map { FileHandle(fileDescriptor: $0.read, closeOnDealloc: true) }
    }

    /// Whether the child has not exited yet (or has exited and is not yet reaped).
    package var isRunning: Bool { reap() == nil }

    /// The exit code, or 128 + the signal that ended it (as a shell reports it); `nil` while it runs.
    package var terminationStatus: Int32? { reap() }

    /// Sends `signal`, unless the child has been reaped already.
    package func send(_ signal: Int32) {
        status.withLock { status in
            if status == nil { _ = kill(processIdentifier, signal) }
        }
    }

    /// SIGTERM.
    package func terminate() { send(SIGTERM) }

    /// Blocks until the child exits; returns ``terminationStatus``. Call it off the cooperative
    /// pool (``onOwnThread(_:)``).
    package func waitUntilExit() -> Int32 {
        while true {
            if let status = reap() { return status }
            var info = siginfo_t()
            // Waits without reaping, so that the reaping stays under the lock.
            if waitid(P_PID, id_t(processIdentifier), &info, WEXITED | WNOWAIT) == -1, errno != EINTR {
                return reap() ?? -1
            }
        }
    }

    private func reap() -> Int32? {
        status.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            guard waitpid(processIdentifier, &raw, WNOHANG) == processIdentifier else { return nil }
            let signal = raw & 0x7f
            status = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
            return status
        }
    }
}

/// A child that could not be started.
package struct SpawnError: Error, CustomStringConvertible {
    package let executable: String
    package let code: Int32
    package var description: String { "could not start \(executable): \(String(cString: strerror(code)))" }
}

/// A child process started with its standard output and error captured; its output is read and
/// its exit awaited off the cooperative pool.
package final class ChildProcess: Sendable {
    /// What a finished child left behind.
    package struct Finished: Sendable {
        package let status: Int32
        package let output: String
        package let errors: String
    }

    package let process: Spawned

    /// Starts `executable arguments`, with `environment` added to this process's environment.
    /// With `discardErrors`, standard error goes nowhere: for tools whose helpers outlive them
    /// and keep it open (Chromium, gpg-agent), where reading it to its end would never end.
    package init(
        _ executable: URL,
        _ arguments: [String],
        environment: [String: String] = [:],
        discardErrors: Bool = false
    ) throws {
        process = try Spawned(
            executable.path,
            arguments,
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 },
            errors: discardErrors ? .discard : .pipe
        )
    }

    /// Runs `executable arguments` to completion.
    package static func run(
        _ executable: URL,
        _ arguments: [String],
        environment: [String: String] = [:],
        discardErrors: Bool = false
    ) async throws -> Finished {
        try await ChildProcess(executable, arguments, environment: environment, discardErrors: discardErrors).finished()
    }

    /// Reads both streams to their end and waits for the exit.
    package func finished() async throws -> Finished {
        let errorBytes = process.standardError.map { errors in
            Task { try await onOwnThread { errors.readDataToEndOfFile() } }
        }
        let outputBytes = try await onOwnThread { self.process.standardOutput?.readDataToEndOfFile() ?? Data() }
        let status = try await onOwnThread { self.process.waitUntilExit() }
        return Finished(
            status: status,
            output: String(decoding: outputBytes, as: UTF8.self),
            errors: String(decoding: try await errorBytes?.value ?? Data(), as: UTF8.self)
        )
    }
}
