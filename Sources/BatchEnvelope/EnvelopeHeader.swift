import Foundation
import VangnetCore

/// The header of a batch envelope (format version 1): who sent what, to whom, and how to open it.
///
/// Serialised as UTF-8 JSON; the exact bytes sent are covered by the trailer signature.
package struct EnvelopeHeader: Sendable, Codable, Equatable {
    /// Always 1 for this format.
    package var version: Int
    package var batchId: BatchID
    /// OIN of the source organisation; must match the TLS client certificate.
    package var source: OIN
    package var dataset: DatasetID
    package var schemaVersion: Int
    /// When the source made the batch (ISO 8601, UTC).
    package var createdAt: Date
    /// Number of records (non-empty lines) in the payload.
    package var recordCount: Int
    /// Key id of the source's Ed25519 signing key.
    package var signingKeyId: String
    /// Key id of the gateway's X25519 key the payload key is sealed to.
    package var recipientKeyId: String
    /// The 32-byte payload key, sealed to the gateway (`crypto_box_seal`), base64.
    package var sealedPayloadKey: String
    /// The secretstream header, base64.
    package var streamHeader: String
    /// Plaintext bytes per chunk (every chunk but the last is exactly this long).
    package var chunkSize: Int
    /// `full` (the complete current picture of the dataset) or `changes`; absent means `changes`.
    package var mode: BatchMode?

    /// What the batch is: ``mode``, `changes` when the header leaves it out.
    package var batchMode: BatchMode { mode ?? .changes }

    package init(
        batchId: BatchID,
        source: OIN,
        dataset: DatasetID,
        schemaVersion: Int,
        createdAt: Date,
        recordCount: Int,
        signingKeyId: String,
        recipientKeyId: String,
        sealedPayloadKey: String,
        streamHeader: String,
        chunkSize: Int,
        mode: BatchMode? = nil
    ) {
        self.version = 1
        self.batchId = batchId
        self.source = source
        self.dataset = dataset
        self.schemaVersion = schemaVersion
        self.createdAt = createdAt
        self.recordCount = recordCount
        self.signingKeyId = signingKeyId
        self.recipientKeyId = recipientKeyId
        self.sealedPayloadKey = sealedPayloadKey
        self.streamHeader = streamHeader
        self.chunkSize = chunkSize
        self.mode = mode
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        return e
    }()

    /// The members that are integers and must be written as integers (`1`, never `1.0` or `1e0`).
    static let integerMembers = ["version", "schemaVersion", "recordCount", "chunkSize"]

    /// Reads signed header bytes so that they mean one thing to every reader: strict RFC 8259 JSON
    /// (no byte order mark, valid UTF-8, no duplicate member names, see ``StrictJSON``), integers
    /// written as integers, then the fields.
    /// - Throws: ``EnvelopeError`` (`envelope_malformed`) saying what is wrong; never a header value.
    package static func decode(_ bytes: [UInt8]) throws -> EnvelopeHeader {
        let json: StrictJSON
        do { json = try StrictJSON(bytes) } catch let failure as StrictJSON.Failure {
            throw EnvelopeError(.malformed, "the header is not strict JSON: \(failure)")
        }
        for name in integerMembers where json[name] != nil && !json.isInteger(name) {
            throw EnvelopeError(.malformed, "the header's \(name) is not written as an integer")
        }
        do { return try decoder.decode(EnvelopeHeader.self, from: Data(bytes)) } catch {
            throw EnvelopeError(.malformed, "the header is not valid envelope JSON")
        }
    }

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }()
}

extension EnvelopeHeader {
    /// Reads the (unverified) header of an envelope file, for tools that show what a file holds.
    package static func read(from url: URL) throws -> EnvelopeHeader {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let prefix = Array(try handle.read(upToCount: 12) ?? Data())
        guard prefix.count == 12, Array(prefix.prefix(8)) == EnvelopeFormat.magic else {
            throw EnvelopeError(.malformed, "not a Vangnet envelope (magic bytes differ)")
        }
        let length = Int(prefix[8...].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard length > 0, length <= EnvelopeFormat.maxHeaderBytes, let bytes = try handle.read(upToCount: length),
            bytes.count == length
        else {
            throw EnvelopeError(.malformed, "header length \(length) is out of bounds")
        }
        return try decode(Array(bytes))
    }
}
