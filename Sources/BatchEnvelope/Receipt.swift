import Foundation
import Records
import VangnetCore
import VangnetCrypto

/// What the gateway states about a batch it committed. Holds counts and reason codes, never a
/// record value.
package struct ReceiptBody: Sendable, Codable, Equatable {
    package var batchId: BatchID
    package var source: OIN
    package var dataset: DatasetID
    /// BLAKE2b-256 of the whole envelope, hex.
    package var envelopeHash: String
    package var receivedAt: Date
    package var accepted: Int
    package var rejected: Int
    /// Per rejected record: its line number and reason code.
    package var rejections: [RecordRejection]
    /// Key id of the gateway signing key.
    package var gatewayKeyId: String

    package init(
        batchId: BatchID,
        source: OIN,
        dataset: DatasetID,
        envelopeHash: String,
        receivedAt: Date,
        accepted: Int,
        rejected: Int,
        rejections: [RecordRejection],
        gatewayKeyId: String
    ) {
        self.batchId = batchId
        self.source = source
        self.dataset = dataset
        self.envelopeHash = envelopeHash
        self.receivedAt = receivedAt
        self.accepted = accepted
        self.rejected = rejected
        self.rejections = rejections
        self.gatewayKeyId = gatewayKeyId
    }
}

/// A receipt as sent: the body's exact JSON text and the gateway's Ed25519 signature over
/// `"vangnet/receipt/v1\0" || body`.
///
/// The body travels as a string, so a verifier checks the very bytes that were signed.
package struct SignedReceipt: Sendable, Codable, Equatable {
    package static let domain: [UInt8] = Array("vangnet/receipt/v1\u{0}".utf8)

    package let body: String
    /// Base64 Ed25519 signature.
    package let signature: String

    /// Signs `body` with the gateway key.
    package init(body: ReceiptBody, signingKey: SigningKeyPair) throws {
        let bytes = try EnvelopeHeader.encoder.encode(body)
        self.body = String(decoding: bytes, as: UTF8.self)
        self.signature = Data(signingKey.sign(Self.domain + Array(bytes))).base64EncodedString()
    }

    /// The body, after checking the signature with the gateway's public key.
    /// - Throws: ``EnvelopeError`` `.badSignature` if the receipt was altered or signed by another key.
    package func verified(with key: SigningPublicKey) throws -> ReceiptBody {
        guard let sig = Data(base64Encoded: signature),
            key.isValidSignature(Array(sig), for: Self.domain + Array(body.utf8))
        else {
            throw EnvelopeError(.badSignature, "the receipt signature does not verify with gateway key \(key.keyID)")
        }
        return try EnvelopeHeader.decoder.decode(ReceiptBody.self, from: Data(body.utf8))
    }
}
