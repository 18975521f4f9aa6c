import Foundation

/// A `vangnet serve` child process, for the benchmark and the crash tests.
///
/// `start` returns once the gateway prints the port it listens on.
public final class ServeProcess {
    public let process = Process()
    public let port: Int

    /// Starts `executable serve --config config` and waits for its "listening on" line.
    public init(executable: URL, config: URL) throws {
        process.executableURL = executable
        process.arguments = ["serve", "--config", config.path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var seen = "", port: Int?
        while port == nil {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { break }
            seen += String(decoding: data, as: UTF8.self)
            if let range = seen.range(of: "127.0.0.1:"), seen[range.upperBound...].contains(" ") {
                port = Int(seen[range.upperBound...].prefix { $0.isNumber })
            }
        }
        guard let port else {
            process.terminate()
            throw ConfigurationError("vangnet serve did not start")
        }
        self.port = port
    }

    /// Peak resident memory of the process so far (`VmHWM`), in KiB; 0 if unknown.
    public var peakResidentKiB: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
    }

    /// SIGKILL: the process gets no chance to clean up.
    public func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then waits.
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}
