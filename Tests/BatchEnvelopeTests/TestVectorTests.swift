import BatchEnvelope
import Foundation
import Testing
import VangnetCore
import VangnetCrypto

/// The published test vectors (`docs/test-vectors/envelope-v1.json`), made by the independent
/// Python client, read by the gateway's envelope reader: the envelope opens to the payload, and
/// every tampered variant is refused with the documented code.
@Suite struct TestVectorTests {
    struct Vectors: Decodable {
        struct Keys: Decodable {
            let sourceSigningSeed, sourceSigningPublicKey, sourceSigningKeyId: String
            let gatewayBoxSecretKey, gatewayBoxPublicKey, gatewayBoxKeyId: String
            let gatewaySigningSeed, gatewaySigningPublicKey: String
        }
        struct Expected: Decodable {
            let frames: Int
            let digestBLAKE2b512: String
            let envelopeHashBLAKE2b256: String
        }
        struct Variant: Decodable {
            let name: String
            let envelope: String
            let expectedError: String
        }
        struct Receipt: Decodable {
            let body: String
            let signature: String
        }
        let keys: Keys
        let payload: String
        let envelope: String
        let expected: Expected
        let variants: [Variant]
        let receipt: Receipt
    }

    static let vectors: Vectors = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../docs/test-vectors/envelope-v1.json"
        )
        return try! JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
    }()

    var v: Vectors { Self.vectors }
    var gatewayBox: BoxKeyPair { try! BoxKeyPair(secretKey: SecretBytes(Hex.decode(v.keys.gatewayBoxSecretKey)!)) }
    var sourceKey: SigningPublicKey { try! SigningPublicKey(bytes: Hex.decode(v.keys.sourceSigningPublicKey)!) }

    func open(_ base64: String) throws -> (OpenedBatch, [UInt8], Int) {
        let bytes = Array(Data(base64Encoded: base64)!)
        let read = try EnvelopeReader.open(bytes, with: gatewayBox, signingKey: sourceKey, piece: bytes.count)
        return (read.batch, read.payload, read.frames)
    }

    @Test func keysAndKeyIDsMatch() throws {
        let source = try SigningKeyPair(seed: SecretBytes(Hex.decode(v.keys.sourceSigningSeed)!))
        #expect(Hex.encode(source.publicKey.bytes) == v.keys.sourceSigningPublicKey)
        #expect(source.publicKey.keyID == v.keys.sourceSigningKeyId)
        #expect(Hex.encode(gatewayBox.publicKey.bytes) == v.keys.gatewayBoxPublicKey)
        #expect(gatewayBox.publicKey.keyID == v.keys.gatewayBoxKeyId)
    }

    @Test func envelopeOpensToThePayload() throws {
        let (opened, payload, frames) = try open(v.envelope)
        #expect(String(decoding: payload, as: UTF8.self) == v.payload)
        #expect(frames == v.expected.frames)
        #expect(Hex.encode(opened.envelopeHash) == v.expected.envelopeHashBLAKE2b256)
        #expect(opened.header.recordCount == 3)
        #expect(opened.header.mode == .full && opened.header.batchMode == .full, "the vector is a complete picture")
        let bytes = Array(Data(base64Encoded: v.envelope)!)
        #expect(
            Hex.encode(GenericHash.hash(Array(bytes.dropLast(64)), outputLength: 64)) == v.expected.digestBLAKE2b512
        )
    }

    @Test func everyVariantIsRefusedWithItsCode() {
        #expect(v.variants.count >= 13)
        for variant in v.variants {
            do {
                _ = try open(variant.envelope)
                Issue.record("\(variant.name): accepted")
            } catch let error as EnvelopeError {
                #expect(error.code.description == variant.expectedError, "\(variant.name)")
            } catch {
                Issue.record("\(variant.name): \(error)")
            }
        }
    }

    @Test func receiptVectorVerifies() throws {
        let gateway = try SigningKeyPair(seed: SecretBytes(Hex.decode(v.keys.gatewaySigningSeed)!))
        #expect(Hex.encode(gateway.publicKey.bytes) == v.keys.gatewaySigningPublicKey)
        let receipt = try JSONDecoder().decode(
            SignedReceipt.self,
            from: JSONEncoder().encode(["body": v.receipt.body, "signature": v.receipt.signature])
        )
        let body = try receipt.verified(with: gateway.publicKey)
        #expect(body.accepted == 3)
        // Ed25519 is deterministic: the Swift side signs the same body to the same bytes.
        #expect(
            Data(gateway.sign(SignedReceipt.domain + Array(v.receipt.body.utf8))).base64EncodedString()
                == v.receipt.signature
        )
    }
}
