import AuditLog
import Crypto
import Foundation
import Logging
import NIOSSL
import ServiceLifecycle
import SwiftASN1
import Synchronization
import VangnetCore
import VangnetCrypto
import X509

/// The client CA's revocation list in force, read again when its file changes.
///
/// A list that does not parse or is not signed by the client CA is refused: at start the gateway
/// does not start, later the list in force stays. Every change and every refusal is audited.
package final class Revocation: Sendable {
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
    /// Refuse every client while the list in force is past its nextUpdate.
    let failClosed: Bool
    private let current: Mutex<Current>
    private let expiryReported = Mutex(false)

    /// No CRL configured: nothing is revoked.
    package static let none = Revocation(file: nil, issuer: nil, list: nil, stamp: nil, failClosed: false)

    private init(file: URL?, issuer: Certificate?, list: RevocationList?, stamp: FileStamp?, failClosed: Bool) {
        self.file = file
        self.issuer = issuer
        self.failClosed = failClosed
        current = Mutex(Current(list: list, stamp: stamp))
    }

    /// Reads the configured CRL, checked against the first certificate of `clientCA`.
    package static func load(file: URL, clientCA: URL, failClosed: Bool = false) throws -> Revocation {
        let pem = try String(contentsOf: clientCA, encoding: .utf8)
        guard
            let first = try PEMDocument.parseMultiple(pemString: pem).first(where: { $0.discriminator == "CERTIFICATE" }
            )
        else {
            throw RevocationList.Failure("\(clientCA.path) holds no certificate")
        }
        let issuer = try Certificate(derEncoded: first.derBytes)
        let (list, stamp) = try read(file, issuer: issuer)
        return Revocation(file: file, issuer: issuer, list: list, stamp: stamp, failClosed: failClosed)
    }

    /// Whether the list in force is past its nextUpdate at `now`.
    package func isExpired(at now: Date) -> Bool { current.withLock { $0.list?.nextUpdate.map { $0 < now } ?? false } }

    /// Why the list in force refuses a certificate; the raw value is the handshake's audit reason.
    package enum Refusal: String, Sendable {
        /// The list names the certificate.
        case revoked = "tls_certificate_revoked"
        /// The list is past its nextUpdate and the configuration fails closed: every client.
        case listExpired = "tls_crl_expired"
    }

    /// Why `certificate` is refused at `now`, if it is.
    package func refusal(for certificate: Certificate, at now: Date) -> Refusal? {
        current.withLock { current in
            guard let list = current.list else { return nil }
            if failClosed, let next = list.nextUpdate, next < now { return .listExpired }
            return list.revokes(certificate) ? .revoked : nil
        }
    }

    /// `true` once for each list that is found past its nextUpdate (so it is audited once).
    func reportExpiry(at now: Date) -> Bool {
        guard isExpired(at: now) else { return false }
        return expiryReported.withLock { reported in
            defer { reported = true }
            return !reported
        }
    }

    private static func read(_ file: URL, issuer: Certificate) throws -> (RevocationList, FileStamp) {
        let bytes = Array(try Data(contentsOf: file))
        let list = try RevocationList(bytes: bytes, issuer: issuer)
        let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
        return (
            list,
            FileStamp(
                modified: attributes[.modificationDate] as? Date ?? .distantPast,
                size: bytes.count,
                digest: Array(SHA256.hash(data: bytes))
            )
        )
    }

    /// The list in force (`nil`: no CRL configured).
    package var list: RevocationList? { current.withLock { $0.list } }

    /// What a check of the file found.
    package enum Change: Equatable, Sendable {
        case unchanged
        /// A new list is in force: its SHA-256 (hex, first 16 characters) and number of revoked certificates.
        case loaded(digest: String, revoked: Int)
        /// The file changed but was refused (`invalid_crl`: unreadable or not the CA's;
        /// `crl_rollback`: older than the list in force); the list in force stays.
        case refused(code: String, reason: String)
    }

    /// Reads the file again if it changed (time, size or contents).
    package func reloadIfChanged() -> Change {
        guard let file, let issuer else { return .unchanged }
        let attributes = try? FileManager.default.attributesOfItem(atPath: file.path)
        let modified = attributes?[.modificationDate] as? Date
        let size = (attributes?[.size] as? NSNumber)?.intValue
        let known = current.withLock { $0.stamp }
        if let known, known.modified == modified, known.size == size { return .unchanged }
        do {
            let (list, stamp) = try Self.read(file, issuer: issuer)
            if stamp.digest == known?.digest {
                current.withLock { $0.stamp = stamp }
                return .unchanged
            }
            // A list older than the one in force (an earlier CRL number, or an earlier thisUpdate)
            // would un-revoke what the newer one revoked.
            if let inForce = self.list, list.isOlder(than: inForce) {
                current.withLock { $0.stamp = stamp }
                return .refused(
                    code: "crl_rollback",
                    reason: "the list is older than the one in force (CRL number or thisUpdate)"
                )
            }
            current.withLock { $0 = Current(list: list, stamp: stamp) }
            expiryReported.withLock { $0 = false }
            return .loaded(digest: Hex.encode(stamp.digest).prefix(16).description, revoked: list.revokedSerials.count)
        } catch {
            // Remember the refused state so it is reported once, not at every check.
            current.withLock { $0.stamp = FileStamp(modified: modified ?? .distantPast, size: size ?? -1, digest: []) }
            return .refused(code: "invalid_crl", reason: String(describing: error))
        }
    }
}

extension Gateway {
    /// Takes a changed CRL file into use (or audits why not), and audits once a list in force
    /// that is past its nextUpdate.
    package func reloadRevocationList() async throws {
        try await takeChangedRevocationList()
        try await auditExpiredRevocationList()
    }

    private func takeChangedRevocationList() async throws {
        switch revocation.reloadIfChanged() {
        case .unchanged:
            return
        case .loaded(let digest, let revoked):
            try await store.appendAudit(
                AuditEvent(
                    time: clock.now(),
                    actor: configuration.gateway.oin,
                    role: nil,
                    action: .configLoad,
                    object: "crl:\(digest)",
                    outcome: .success,
                    counts: ["revokedCertificates": revoked]
                )
            )
            logger.info("revocation list loaded", metadata: ["crl": "\(digest)", "revoked": "\(revoked)"])
        case .refused(let code, let reason):
            try await store.appendAudit(
                AuditEvent(
                    time: clock.now(),
                    actor: configuration.gateway.oin,
                    role: nil,
                    action: .configLoad,
                    object: "crl",
                    outcome: .refused,
                    reason: code
                )
            )
            logger.error(
                "revocation list refused; the list in force stays",
                metadata: ["code": "\(code)", "reason": "\(reason)"]
            )
        }
    }

    /// Audits (once per list) and logs a list in force that is past its nextUpdate.
    func auditExpiredRevocationList() async throws {
        guard revocation.reportExpiry(at: clock.now()) else { return }
        try await store.appendAudit(
            AuditEvent(
                time: clock.now(),
                actor: configuration.gateway.oin,
                role: nil,
                action: .configLoad,
                object: "crl",
                outcome: .failed,
                reason: "crl_expired",
                counts: ["failClosed": revocation.failClosed ? 1 : 0]
            )
        )
        logger.warning(
            "the revocation list in force is past its nextUpdate: publish a current one",
            metadata: ["failClosed": "\(revocation.failClosed)"]
        )
    }
}
