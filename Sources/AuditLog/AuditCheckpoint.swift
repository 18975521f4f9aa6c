import Foundation
import VangnetCore
import VangnetCrypto

/// A signed statement by the gateway: "the audit chain had this hash at this entry".
///
/// An auditor who keeps a checkpoint can later prove that the log was not cut short or rewritten
/// before it: `vangnet audit verify --checkpoint FILE` fails unless the chain still reaches that
/// entry with that hash. The signature is Ed25519 by the gateway's audit key over
/// `vangnet/audit-checkpoint/v1\nsequence=<n>\nhash=<hex>\ntime=<ms>\n`.
package struct AuditCheckpoint: Sendable, Codable, Equatable {
    package let sequence: Int64
    /// The chain's hash after entry `sequence`, hex.
    package let hash: String
    /// When it was signed, milliseconds since 1970.
    package let time: Int64
    /// Key id of the audit key that signed it.
    package let keyId: String
    /// Base64 Ed25519 signature.
    package let signature: String

    /// The exact bytes that are signed.
    package static func message(sequence: Int64, hash: String, time: Int64) -> [UInt8] {
        Array("vangnet/audit-checkpoint/v1\nsequence=\(sequence)\nhash=\(hash)\ntime=\(time)\n".utf8)
    }

    /// Signs the chain's `hash` after entry `sequence`.
    package init(sequence: Int64, hash: [UInt8], time: Date, key: SigningKeyPair) {
        self.sequence = sequence
        self.hash = Hex.encode(hash)
        self.time = Int64((time.timeIntervalSince1970 * 1000).rounded(.down))
        self.keyId = key.publicKey.keyID
        self.signature = Data(key.sign(Self.message(sequence: sequence, hash: self.hash, time: self.time)))
            .base64EncodedString()
    }

    /// Whether the signature is valid under `key`.
    package func isSigned(by key: SigningPublicKey) -> Bool {
        guard keyId == key.keyID, let signature = Data(base64Encoded: signature) else { return false }
        return key.isValidSignature(Array(signature), for: Self.message(sequence: sequence, hash: hash, time: time))
    }
}
