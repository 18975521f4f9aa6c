import Foundation
import Gateway

/// A `vangnet serve` child process, for the benchmark and the tests that run the real binary.
package final class ServeProcess: @unchecked Sendable {
    package let process: Spawned
    package let port: Int

    /// Starts `executable serve --config config` and returns once it prints the port it listens on.
    package init(executable: URL, config: URL) async throws {
        // As operations.md advises for every gateway process (``ProcessMemory``), unless set.
        let environment = ProcessInfo.processInfo.environment.merging(ProcessMemory.environment) { set, _ in set }
        process = try Spawned(
            executable.path,
            ["serve", "--config", config.path],
            environment: environment,
            errors: .discard
        )
        let out = process.standardOutput!
        let port = try await onOwnThread {
            var seen = ""
            while true {
                let data = out.availableData
                if data.isEmpty { return nil as Int? }
                seen += String(decoding: data, as: UTF8.self)
                if let range = seen.range(of: "127.0.0.1:"), seen[range.upperBound...].contains(" ") {
                    return Int(seen[range.upperBound...].prefix { $0.isNumber })
                }
            }
        }
        guard let port else {
            process.terminate()
            throw ConfigurationError("vangnet serve did not start")
        }
        self.port = port
    }

    deinit {
        if process.isRunning { process.terminate() }
    }

    /// Peak resident memory of the process so far (`VmHWM`), in KiB; 0 if unknown.
    package var peakResidentKiB: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }.flatMap {
            Int($0.split(separator: " ").dropFirst().first ?? "")
        } ?? 0
    }

    /// Peak resident memory since the previous call, in KiB (0 if unknown); the peak starts again
    /// from the current resident size (`clear_refs` 5), so each phase of a benchmark has its own.
    package func takePeakResidentKiB() -> Int {
        let peak = peakResidentKiB
        try? Data("5".utf8).write(to: URL(fileURLWithPath: "/proc/\(process.processIdentifier)/clear_refs"))
        return peak
    }

    /// Waits for the process to exit; returns its status.
    @discardableResult
    package func exited() async throws -> Int32 {
        try await onOwnThread { self.process.waitUntilExit() }
    }

    /// SIGKILL: the process gets no chance to clean up.
    package func kill() async throws {
        process.send(SIGKILL)
        try await exited()
    }

    /// SIGTERM, then waits.
    package func stop() async throws {
        guard process.isRunning else { return }
        process.terminate()
        try await exited()
    }
}
