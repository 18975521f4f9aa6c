import Testing
import VangnetCrypto

/// Ed25519 against RFC 8032, section 7.1 (TEST 1 and TEST 2), and rejection of altered input.
@Suite struct Ed25519Tests {
    struct Vector: Sendable {
        let seed: String, publicKey: String, message: String, signature: String
    }

    static let rfc8032: [Vector] = [
        Vector(
            seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            message: "",
            signature:
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        ),
        Vector(
            seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            message: "72",
            signature:
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        ),
    ]

    @Test(arguments: rfc8032)
    func signaturesMatchRFC8032(_ v: Vector) throws {
        let pair = try SigningKeyPair(seed: SecretBytes(Hex.decode(v.seed)!))
        #expect(Hex.encode(pair.publicKey.bytes) == v.publicKey)
        let message = Hex.decode(v.message)!
        #expect(Hex.encode(pair.sign(message)) == v.signature)
        #expect(pair.publicKey.isValidSignature(Hex.decode(v.signature)!, for: message))
    }

    @Test func alteredMessageIsRejected() throws {
        let pair = SigningKeyPair.generate()
        let signature = pair.sign(Array("batch".utf8))
        #expect(!pair.publicKey.isValidSignature(signature, for: Array("batcH".utf8)))
    }

    @Test func signatureByAnotherKeyIsRejected() {
        let message = Array("batch".utf8)
        #expect(
            !SigningKeyPair.generate().publicKey.isValidSignature(SigningKeyPair.generate().sign(message), for: message)
        )
    }

    @Test func truncatedSignatureIsRejected() {
        let pair = SigningKeyPair.generate()
        let message = Array("batch".utf8)
        #expect(!pair.publicKey.isValidSignature(Array(pair.sign(message).dropLast()), for: message))
    }

    @Test func wrongSeedLengthIsRefused() {
        #expect(throws: CryptoError.self) { try SigningKeyPair(seed: SecretBytes([1, 2, 3])) }
    }

    @Test func secretsDoNotPrint() throws {
        let pair = try SigningKeyPair(seed: SecretBytes(Hex.decode(Self.rfc8032[0].seed)!))
        for text in [String(describing: pair), String(describing: pair.seed), String(reflecting: pair.seed)] {
            #expect(!text.contains("9d61b1"))
            #expect(text.contains("redacted"))
        }
    }
}
