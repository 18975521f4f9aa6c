import AuditLog
import Foundation
import Storage
import VangnetCore
import VangnetCrypto

/// The last audit checkpoint this gateway signed, kept outside the store in
/// `<keyDirectory>/audit-head.json` (owner-only, like the keys).
///
/// Written at start, at every periodic checkpoint and at shutdown. A start that finds the store's
/// chain shorter than this head, or different at it, refuses to run: a log cut short or rewritten
/// while the gateway was stopped is caught before new entries could reuse the lost sequence
/// numbers and new checkpoints could make the cut look whole. An operator who has looked into it
/// records the decision with ``accept(configuration:reason:at:)`` (`vangnet audit accept-head`).
package enum AuditHead {
    /// The chain does not reach the signed head.
    package struct Mismatch: Error, CustomStringConvertible {
        package let head: AuditCheckpoint
        package let chainEnd: Int
        package let rewritten: Bool
        package var description: String {
            "the audit log does not hold the chain this gateway last signed (entry \(head.sequence), signed at \(head.time) ms): "
                + (rewritten
                    ? "entry \(head.sequence) has another hash (rewritten)"
                    : "the chain ends at entry \(chainEnd) (cut short)")
                + ". The gateway does not start on it. Compare with the auditors' held checkpoints and the backups; once decided, "
                + "`vangnet audit accept-head --config FILE --reason TEXT` records the decision in the audit log and lets the gateway start."
        }
    }

    package static func file(_ configuration: GatewayConfiguration) -> URL {
        configuration.resolve(configuration.gateway.keyDirectory).appendingPathComponent("audit-head.json")
    }

    /// The head in `file`, checked against the audit key; `nil` if there is none yet.
    static func read(_ file: URL, key: SigningPublicKey) throws -> AuditCheckpoint? {
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        let head = try JSONDecoder().decode(AuditCheckpoint.self, from: Data(contentsOf: file))
        guard head.isSigned(by: key) else {
            throw ConfigurationError("\(file.path): the audit head is not signed by the audit key \(key.keyID)")
        }
        return head
    }

    static func write(_ checkpoint: AuditCheckpoint, to file: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let temporary = file.appendingPathExtension("new")
        try KeyFile.writeText(String(decoding: try encoder.encode(checkpoint), as: UTF8.self) + "\n", to: temporary)
        // Renamed into place: a crash leaves the old head or the new one, never half of one.
        guard rename(temporary.path, file.path) == 0 else {
            throw ConfigurationError(
                "\(file.path): the audit head cannot be written (\(String(cString: strerror(errno))))"
            )
        }
    }

    /// Throws ``Mismatch`` unless `store` still holds the chain the head in `file` signed.
    static func check(_ file: URL, store: any RecordStore, key: SigningPublicKey) async throws {
        guard let head = try read(file, key: key) else { return }
        let hash = try await store.auditHash(at: head.sequence)
        guard let hash, Hex.encode(hash) == head.hash else {
            throw Mismatch(head: head, chainEnd: Int(try await store.auditHead()), rewritten: hash != nil)
        }
    }

    /// Records in the audit log that an operator accepts the chain as it is (after a mismatch),
    /// with the head it no longer reaches, and removes the head file; the next start signs a new
    /// one. Returns the mismatch that was accepted (`nil`: the chain reached the head). `store` is
    /// the configuration's, opened for an operator command (its entries signed with the audit key).
    @discardableResult
    package static func accept(
        configuration: GatewayConfiguration,
        store: any RecordStore,
        reason: String,
        at time: Date
    ) async throws -> Mismatch? {
        let keys = try GatewayKeys.load(from: configuration.resolve(configuration.gateway.keyDirectory))
        let file = Self.file(configuration)
        var accepted: Mismatch?
        do { try await check(file, store: store, key: keys.audit.publicKey) } catch let mismatch as Mismatch {
            accepted = mismatch
        }
        guard let accepted else { return nil }
        // The checkpoints beyond the chain's end are the cut's evidence: their head goes into
        // the decision's entry (and stays with the auditors who hold it) before they are removed,
        // so the chain that continues from here verifies.
        try await store.discardAuditCheckpoints(after: Int64(accepted.chainEnd))
        try await store.appendAudit(
            AuditEvent(
                time: time,
                actor: configuration.gateway.oin,
                role: nil,
                action: .operatorCommand,
                object: "cli:audit accept-head:head=\(accepted.head.hash):\(String(reason.prefix(200)))",
                outcome: .success,
                reason: accepted.rewritten ? "audit_head_rewritten" : "audit_head_cut_short",
                counts: ["signedHead": Int(accepted.head.sequence), "chainEnd": accepted.chainEnd]
            )
        )
        try FileManager.default.removeItem(at: file)
        return accepted
    }
}

extension Gateway {
    /// Signs a checkpoint of the chain's head (unless it has one) and keeps it as the audit head.
    func checkpointAudit() async throws {
        if let checkpoint = try await store.checkpointAudit(at: clock.now()) {
            try AuditHead.write(checkpoint, to: AuditHead.file(configuration))
        }
    }
}
