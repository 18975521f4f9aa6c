import Testing
import VangnetCrypto

@Suite struct SealedBoxTests {
    @Test func sealedBoxOpensWithTheRecipientKey() throws {
        let recipient = BoxKeyPair.generate()
        let sealed = recipient.publicKey.seal(Array("payload key".utf8))
        #expect(try recipient.open(sealed).exposedBytes() == Array("payload key".utf8))
    }

    @Test func sealedBoxDoesNotOpenWithAnotherKey() {
        let sealed = BoxKeyPair.generate().publicKey.seal(Array("payload key".utf8))
        #expect(throws: CryptoError.self) { try BoxKeyPair.generate().open(sealed) }
    }

    @Test func alteredSealedBoxIsRejected() {
        let recipient = BoxKeyPair.generate()
        var sealed = recipient.publicKey.seal(Array("payload key".utf8))
        sealed[sealed.count - 1] ^= 1
        #expect(throws: CryptoError.self) { try recipient.open(sealed) }
    }

    @Test func storedSecretKeyRestoresThePair() throws {
        let pair = BoxKeyPair.generate()
        #expect(try BoxKeyPair(secretKey: SecretBytes(pair.secretKey.exposedBytes())).publicKey == pair.publicKey)
    }
}

@Suite struct SecretStreamTests {
    func encrypt(_ chunks: [[UInt8]], key: SecretBytes) throws -> (header: [UInt8], frames: [[UInt8]]) {
        let stream = try SecretStreamEncryptor(key: key)
        let frames = chunks.enumerated().map { stream.encrypt($1, isFinal: $0 == chunks.count - 1) }
        return (stream.header, frames)
    }

    func decrypt(_ frames: [[UInt8]], header: [UInt8], key: SecretBytes) throws -> (plaintext: [UInt8], finished: Bool)
    {
        let stream = try SecretStreamDecryptor(key: key, header: header)
        var out: [UInt8] = []
        var chunk: [UInt8] = []
        for frame in frames {
            try frame.withUnsafeBytes { try stream.decrypt($0, into: &chunk) }
            out += chunk
        }
        return (out, stream.isFinished)
    }

    let key = SecretBytes.random(count: SecretStream.keyLength)
    let chunks: [[UInt8]] = [Array("first ".utf8), Array("second ".utf8), Array("last".utf8)]

    @Test func roundTripEndsWithTheFinalTag() throws {
        let (header, frames) = try encrypt(chunks, key: key)
        let result = try decrypt(frames, header: header, key: key)
        #expect(result.plaintext == Array("first second last".utf8))
        #expect(result.finished)
    }

    @Test func alteredChunkIsRejected() throws {
        var (header, frames) = try encrypt(chunks, key: key)
        frames[1][3] ^= 0x40
        #expect(throws: CryptoError.self) { try decrypt(frames, header: header, key: key) }
    }

    @Test func reorderedChunksAreRejected() throws {
        var (header, frames) = try encrypt(chunks, key: key)
        frames.swapAt(0, 1)
        #expect(throws: CryptoError.self) { try decrypt(frames, header: header, key: key) }
    }

    @Test func truncationIsVisibleAsAMissingFinalTag() throws {
        let (header, frames) = try encrypt(chunks, key: key)
        #expect(try decrypt(Array(frames.dropLast()), header: header, key: key).finished == false)
    }

    @Test func wrongKeyIsRejected() throws {
        let (header, frames) = try encrypt(chunks, key: key)
        #expect(throws: CryptoError.self) {
            try decrypt(frames, header: header, key: .random(count: SecretStream.keyLength))
        }
    }
}

@Suite struct KeyDerivationTests {
    @Test func subkeysAreDeterministicAndSeparatedByLabelAndID() throws {
        let root = SecretBytes.random(count: KeyDerivation.rootKeyLength)
        let a = try KeyDerivation.derive(from: root, context: "VNGTINTL", id: 1).exposedBytes()
        #expect(try KeyDerivation.derive(from: root, context: "VNGTINTL", id: 1).exposedBytes() == a)
        #expect(try KeyDerivation.derive(from: root, context: "VNGTDELV", id: 1).exposedBytes() != a)
        #expect(try KeyDerivation.derive(from: root, context: "VNGTINTL", id: 2).exposedBytes() != a)
    }

    @Test func shortRootKeyIsRefused() {
        #expect(throws: CryptoError.self) {
            try KeyDerivation.derive(from: SecretBytes([1, 2, 3]), context: "VNGTINTL", id: 1)
        }
    }
}
