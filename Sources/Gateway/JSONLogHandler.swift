import AuditLog
import Foundation
import Logging

/// swift-log handler writing one JSON object per line: `time`, `level`, `label`, `message` and the
/// metadata as string fields. The gateway logs codes, routes, types and fingerprints only, never
/// personal data (a test searches the logs for every BSN).
package struct JSONLogHandler: LogHandler {
    package var metadata: Logger.Metadata = [:]
    package var logLevel: Logger.Level = .info
    let label: String
    let write: @Sendable (String) -> Void

    /// A handler writing to standard error.
    package init(label: String) {
        self.init(label: label) { line in FileHandle.standardError.write(Data(line.utf8)) }
    }

    package init(label: String, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.write = write
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(
        level: Logger.Level,
        message: Logger.Message,
        metadata explicit: Logger.Metadata?,
        source: String,
        file: String,
        function: String,
        line: UInt
    ) {
        var object: [String: String] = [:]
        for (key, value) in metadata.merging(explicit ?? [:], uniquingKeysWith: { $1 }) { object[key] = "\(value)" }
        object["time"] = ISO8601DateFormatter.vangnet.string(from: Date())
        object["level"] = level.rawValue
        object["label"] = label
        object["message"] = message.description
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(object) else { return }
        write(String(decoding: data, as: UTF8.self) + "\n")
    }
}
