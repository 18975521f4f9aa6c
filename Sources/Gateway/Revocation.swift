import AuditLog
import Crypto
import Foundation
import Logging
import NIOSSL
import ServiceLifecycle
import Synchronization
import VangnetCore
import VangnetCrypto
import X509

/// The client CA's revocation list in force, read again when its file changes.
///
/// A list that does not parse or is not signed by the client CA is refused: at start the gateway
/// does not start, later the list in force stays. Every change and every refusal is audited.
public final class Revocation: Sendable {
    /// The list in force and the file state it was read from.
    struct Current: Sendable {
        var list: RevocationList?
        var stamp: FileStamp?
    }

    struct FileStamp: Equatable, Sendable {
        let modified: Date
        let size: Int
        let digest: [UInt8]
    }

    let file: URL?
    let issuer: Certificate?
    private let current: Mutex<Current>

    /// No CRL configured: nothing is revoked.
    public static let none = Revocation(file: nil, issuer: nil, list: nil, stamp: nil)

    private init(file: URL?, issuer: Certificate?, list: RevocationList?, stamp: FileStamp?) {
        self.file = file
        self.issuer = issuer
        current = Mutex(Current(list: list, stamp: stamp))
    }

    /// Reads the configured CRL, checked against the first certificate of `clientCA`.
    public static func load(file: URL, clientCA: URL) throws -> Revocation {
        let pem = try String(contentsOf: clientCA, encoding: .utf8)
        let issuer = try Certificate(pemEncoded: pem)
        let (list, stamp) = try read(file, issuer: issuer)
        return Revocation(file: file, issuer: issuer, list: list, stamp: stamp)
    }

    private static func read(_ file: URL, issuer: Certificate) throws -> (RevocationList, FileStamp) {
        let bytes = Array(try Data(contentsOf: file))
        let list = try RevocationList(bytes: bytes, issuer: issuer)
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        return (list, FileStamp(modified: attributes[.modificationDate] as? Date ?? .distantPast, size: bytes.count, digest: Array(SHA256.hash(data: bytes))))
    }

    /// The list in force (`nil`: no CRL configured).
    public var list: RevocationList? { current.withLock { $0.list } }

    /// Whether the certificate (DER) is revoked.
    public func revokes(_ certificate: Certificate) -> Bool { current.withLock { $0.list?.revokes(certificate) ?? false } }

    /// What a check of the file found.
    public enum Change: Equatable, Sendable {
        case unchanged
        /// A new list is in force: its SHA-256 (hex, first 16 characters) and number of revoked certificates.
        case loaded(digest: String, revoked: Int)
        /// The file changed but was refused; the list in force stays.
        case refused(String)
    }

    /// Reads the file again if it changed (time, size or contents).
    public func reloadIfChanged() -> Change {
        guard let file, let issuer else { return .unchanged }
        let attributes = try? FileManager.default.attributesOfItem(atPath: file.path)
        let modified = attributes?[.modificationDate] as? Date, size = (attributes?[.size] as? NSNumber)?.intValue
        let known = current.withLock { $0.stamp }
        if let known, known.modified == modified, known.size == size { return .unchanged }
        do {
            let (list, stamp) = try Self.read(file, issuer: issuer)
            if stamp.digest == known?.digest {
                current.withLock { $0.stamp = stamp }
                return .unchanged
            }
            current.withLock { $0 = Current(list: list, stamp: stamp) }
            return .loaded(digest: Hex.encode(stamp.digest).prefix(16).description, revoked: list.revokedSerials.count)
        } catch {
            // Remember the refused state so it is reported once, not at every check.
            current.withLock { $0.stamp = FileStamp(modified: modified ?? .distantPast, size: size ?? -1, digest: []) }
            return .refused(String(describing: error))
        }
    }
}

extension Gateway {
    /// Takes a changed CRL file into use (or audits why not).
    public func reloadRevocationList() async throws {
        switch revocation.reloadIfChanged() {
        case .unchanged:
            return
        case .loaded(let digest, let revoked):
            try await store.appendAudit(AuditEvent(time: clock.now(), actor: configuration.gateway.oin, role: nil, action: .configLoad,
                                                   object: "crl:\(digest)", outcome: .success, counts: ["revokedCertificates": revoked]))
            logger.info("revocation list loaded", metadata: ["crl": "\(digest)", "revoked": "\(revoked)"])
        case .refused(let reason):
            try await store.appendAudit(AuditEvent(time: clock.now(), actor: configuration.gateway.oin, role: nil, action: .configLoad,
                                                   object: "crl", outcome: .refused, reason: "invalid_crl"))
            logger.error("revocation list refused; the list in force stays", metadata: ["reason": "\(reason)"])
        }
    }
}
