import Foundation
import VangnetCore
import VangnetCrypto

/// The source side of the wire format: signs and encrypts an NDJSON payload into an envelope.
///
/// Streams: plaintext goes in chunk by chunk and sealed bytes come out through `write`, so a
/// batch of any size needs memory for one chunk.
package struct EnvelopeSealer: Sendable {
    package let source: OIN
    package let signingKey: SigningKeyPair
    package let recipient: BoxPublicKey
    package let chunkSize: Int

    package init(
        source: OIN,
        signingKey: SigningKeyPair,
        recipient: BoxPublicKey,
        chunkSize: Int = EnvelopeFormat.defaultChunkSize
    ) {
        precondition(chunkSize > 0 && chunkSize <= EnvelopeFormat.maxChunkSize)
        self.source = source
        self.signingKey = signingKey
        self.recipient = recipient
        self.chunkSize = chunkSize
    }

    /// Writes the magic, the header, the frames that `frames` encrypts one by one, and the
    /// signature over them, each piece to `write`.
    private func seal(
        batchId: BatchID,
        dataset: DatasetID,
        schemaVersion: Int,
        createdAt: Date,
        recordCount: Int,
        mode: BatchMode?,
        write: ([UInt8]) throws -> Void,
        frames: (_ frame: ([UInt8], SecretStream.Tag) throws -> Void) throws -> Void
    ) throws -> EnvelopeHeader {
        let payloadKey = SecretBytes.random(count: SecretStream.keyLength)
        var stream = try SecretStreamEncryptor(key: payloadKey)
        let header = EnvelopeHeader(
            batchId: batchId,
            source: source,
            dataset: dataset,
            schemaVersion: schemaVersion,
            createdAt: createdAt,
            recordCount: recordCount,
            signingKeyId: signingKey.publicKey.keyID,
            recipientKeyId: recipient.keyID,
            sealedPayloadKey: Data(recipient.seal(payloadKey)).base64EncodedString(),
            streamHeader: Data(stream.header).base64EncodedString(),
            chunkSize: chunkSize,
            mode: mode
        )
        var digest = StreamingHash(outputLength: 64)
        try withoutActuallyEscaping(write) { write in
            func emit(_ bytes: [UInt8]) throws {
                digest.update(bytes)
                try write(bytes)
            }
            let headerBytes = Array(try EnvelopeHeader.encoder.encode(header))
            try emit(EnvelopeFormat.magic + UInt32(headerBytes.count).bigEndianBytes + headerBytes)
            try frames { chunk, tag in
                let sealed = chunk.withUnsafeBytes { stream.encrypt($0, tag: tag) }
                try emit(UInt32(sealed.count).bigEndianBytes + sealed)
            }
        }
        try write(signingKey.sign(EnvelopeFormat.signedMessage(digest: digest.finalize())))
        return header
    }

    /// Seals a payload read through `read` (which fills up to `n` bytes and returns fewer only at
    /// the end) and hands each piece of the envelope to `write`.
    /// - Returns: the header that was written.
    package func seal(
        batchId: BatchID,
        dataset: DatasetID,
        schemaVersion: Int,
        createdAt: Date,
        recordCount: Int,
        mode: BatchMode? = nil,
        read: (Int) throws -> [UInt8],
        write: ([UInt8]) throws -> Void
    ) throws -> EnvelopeHeader {
        try seal(
            batchId: batchId,
            dataset: dataset,
            schemaVersion: schemaVersion,
            createdAt: createdAt,
            recordCount: recordCount,
            mode: mode,
            write: write
        ) { frame in
            // Every chunk but the last is full and a message chunk; the last is final.
            var chunk = try read(chunkSize)
            while true {
                let next = chunk.count == chunkSize ? try read(chunkSize) : []
                try frame(chunk, next.isEmpty ? .final : .message)
                if next.isEmpty { break }
                chunk = next
            }
        }
    }

    /// Seals exactly `chunks`, each with its tag, whatever the layout (tests of what a reader
    /// must refuse: a short chunk that is not the last, a push tag, no final chunk).
    package func seal(
        chunks: [(plaintext: [UInt8], tag: SecretStream.Tag)],
        batchId: BatchID = BatchID(),
        dataset: DatasetID,
        createdAt: Date,
        recordCount: Int
    ) throws -> [UInt8] {
        var out: [UInt8] = []
        _ = try seal(
            batchId: batchId,
            dataset: dataset,
            schemaVersion: 1,
            createdAt: createdAt,
            recordCount: recordCount,
            mode: nil,
            write: { out.append(contentsOf: $0) }
        ) { frame in
            for chunk in chunks { try frame(chunk.plaintext, chunk.tag) }
        }
        return out
    }

    /// Seals an in-memory payload; for tests and small batches.
    package func seal(
        payload: [UInt8],
        batchId: BatchID,
        dataset: DatasetID,
        schemaVersion: Int = 1,
        createdAt: Date,
        recordCount: Int,
        mode: BatchMode? = nil
    ) throws -> [UInt8] {
        var offset = 0
        var out: [UInt8] = []
        _ = try seal(
            batchId: batchId,
            dataset: dataset,
            schemaVersion: schemaVersion,
            createdAt: createdAt,
            recordCount: recordCount,
            mode: mode,
            read: { n in
                let end = min(payload.count, offset + n)
                defer { offset = end }
                return Array(payload[offset..<end])
            },
            write: { out.append(contentsOf: $0) }
        )
        return out
    }
}

extension UInt32 {
    var bigEndianBytes: [UInt8] {
        [UInt8(self >> 24), UInt8(self >> 16 & 0xff), UInt8(self >> 8 & 0xff), UInt8(self & 0xff)]
    }
}
