import Foundation
import VangnetCore
import VangnetCrypto

/// The hash chain over audit records.
///
/// `hash(n) = BLAKE2b-256("vangnet/audit/v1\0" || hash(n-1) || u64be(n) || canonical(event n))`,
/// where `canonical` is the event's JSON with sorted keys and times in whole milliseconds. Any
/// change, removal, insertion or reordering of a record breaks every hash after it.
public enum AuditChain {
    public static let genesis = [UInt8](repeating: 0, count: 32)
    static let domain: [UInt8] = Array("vangnet/audit/v1\u{0}".utf8)

    /// The canonical bytes of an event: what is hashed and what is stored.
    public static func canonicalBytes(_ event: AuditEvent) -> [UInt8] {
        // JSONEncoder with sorted keys is deterministic for these plain value types.
        (try? Array(encoder.encode(event))) ?? []
    }

    /// Decodes stored canonical bytes.
    public static func decode(_ bytes: [UInt8]) throws -> AuditEvent {
        try decoder.decode(AuditEvent.self, from: Data(bytes))
    }

    /// Chains `event` after a record with hash `previous` at position `sequence`.
    public static func link(_ event: AuditEvent, sequence: Int64, previous: [UInt8]) -> AuditRecord {
        AuditRecord(sequence: sequence, event: event, previousHash: previous, hash: hash(canonicalBytes(event), sequence: sequence, previous: previous))
    }

    static func hash(_ canonical: [UInt8], sequence: Int64, previous: [UInt8]) -> [UInt8] {
        var input = domain + previous
        withUnsafeBytes(of: UInt64(sequence).bigEndian) { input.append(contentsOf: $0) }
        input.append(contentsOf: canonical)
        return GenericHash.hash(input, outputLength: 32)
    }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .millisecondsSince1970
        return e
    }()

    private static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .millisecondsSince1970
        return d
    }()
}
