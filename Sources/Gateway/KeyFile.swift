import Foundation
import VangnetCrypto

/// Key files: one base64 line (or a PEM document), readable only by the gateway's user.
///
/// Reading refuses a file that its group or others may read, so a misconfigured deployment
/// stops at start instead of running with exposed keys.
package enum KeyFile {
    /// A key file is unsafe or unreadable.
    package struct Failure: Error, CustomStringConvertible {
        package let path: String
        package let reason: String
        package var description: String { "key file \(path): \(reason)" }
    }

    /// Reads a base64 secret key file after checking its permissions.
    package static func readSecret(_ url: URL) throws -> SecretBytes {
        try checkPermissions(url)
        let text = try String(contentsOf: url, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard var data = Data(base64Encoded: text) else { throw Failure(path: url.path, reason: "not base64") }
        defer { data.resetBytes(in: 0..<data.count) }
        return SecretBytes(data)
    }

    /// Reads a base64 public key file (no permission requirement).
    package static func readPublic(_ url: URL) throws -> [UInt8] {
        let text = try String(contentsOf: url, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let data = Data(base64Encoded: text) else { throw Failure(path: url.path, reason: "not base64") }
        return Array(data)
    }

    /// Writes a secret as base64 with mode 0600.
    package static func writeSecret(_ secret: SecretBytes, to url: URL) throws {
        try writeText(Data(secret.exposedBytes()).base64EncodedString() + "\n", to: url)
    }

    /// Writes a public key as base64 (mode 0644).
    package static func writePublic(_ bytes: [UInt8], to url: URL) throws {
        try (Data(bytes).base64EncodedString() + "\n").write(to: url, atomically: true, encoding: .utf8)
    }

    /// Writes text that must stay private: created with mode 0600 before any byte is written.
    package static func writeText(_ text: String, to url: URL) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: url.path) { try fm.removeItem(at: url) }
        guard fm.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw Failure(path: url.path, reason: "cannot create")
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.write(contentsOf: Data(text.utf8))
    }

    /// Refuses a file that anyone but its owner may read or write, or that another user owns.
    package static func checkPermissions(_ url: URL) throws {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw Failure(
                path: url.path,
                reason:
                    "missing (vangnet keys init makes the gateway's keys; vangnet keys rotate a new pseudonym epoch)"
            )
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
        let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0o777
        guard mode & 0o077 == 0 else {
            throw Failure(path: url.path, reason: "readable by others (mode \(String(mode, radix: 8))); run chmod 600")
        }
        let owner = (attributes[.ownerAccountID] as? NSNumber)?.uint32Value
        guard owner == geteuid() else {
            throw Failure(
                path: url.path,
                reason:
                    "owned by user \(owner.map(String.init) ?? "?"), not by the gateway's user (\(geteuid())); run chown"
            )
        }
    }
}
