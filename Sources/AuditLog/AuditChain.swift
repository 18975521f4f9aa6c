import Foundation
import VangnetCore
import VangnetCrypto

/// The hash chain over audit records.
///
/// `hash(n) = BLAKE2b-256("vangnet/audit/v1\0" || hash(n-1) || u64be(n) || canonical(event n))`,
/// where `canonical` is the event's JSON with sorted keys, no spaces, absent fields left out, and
/// the time in whole milliseconds. Any change, removal, insertion or reordering of a record
/// breaks every hash after it.
package enum AuditChain {
    package static let genesis = [UInt8](repeating: 0, count: 32)
    static let domain: [UInt8] = Array("vangnet/audit/v1\u{0}".utf8)

    /// The canonical bytes of an event: what is hashed and what is stored. Written directly (an
    /// audit entry is made for every request; a general JSON encoder cost most of an append).
    package static func canonicalBytes(_ event: AuditEvent) -> [UInt8] {
        var out: [UInt8] = [0x7B]
        out.reserveCapacity(256)
        var first = true
        func key(_ name: StaticString) {
            if !first { out.append(0x2C) }
            first = false
            out.append(0x22)
            out.append(contentsOf: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            out.append(contentsOf: [0x22, 0x3A])
        }
        func string(_ value: String) { JSONText.appendString(value, to: &out) }
        func number(_ value: Int64) { out.append(contentsOf: String(value).utf8) }
        // Keys in sorted order.
        key("action")
        string(event.action.rawValue)
        if let actor = event.actor {
            key("actor")
            string(actor.value)
        }
        key("counts")
        out.append(0x7B)
        for (i, (name, value)) in event.counts.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { out.append(0x2C) }
            string(name)
            out.append(0x3A)
            number(Int64(value))
        }
        out.append(0x7D)
        if let dataset = event.dataset {
            key("dataset")
            string(dataset.value)
        }
        key("object")
        string(event.object)
        key("outcome")
        string(event.outcome.rawValue)
        if let purpose = event.purpose {
            key("purpose")
            string(purpose.value)
        }
        if let reason = event.reason {
            key("reason")
            string(reason)
        }
        if let region = event.region {
            key("region")
            number(Int64(region.value))
        }
        if let role = event.role {
            key("role")
            string(role.rawValue)
        }
        key("time")
        number(milliseconds(event.time))
        out.append(0x7D)
        return out
    }

    /// Decodes stored canonical bytes.
    package static func decode(_ bytes: [UInt8]) throws -> AuditEvent {
        try decoder.decode(AuditEvent.self, from: Data(bytes))
    }

    /// Chains `event` after a record with hash `previous` at position `sequence`.
    package static func link(_ event: AuditEvent, sequence: Int64, previous: [UInt8]) -> AuditRecord {
        AuditRecord(
            sequence: sequence,
            event: event,
            previousHash: previous,
            hash: hash(canonicalBytes(event), sequence: sequence, previous: previous)
        )
    }

    /// What an entry's own signature covers: `"vangnet/audit-entry/v1\0" || hash(n)`. The hash
    /// binds the entry's place and every entry before it, so a signed entry is a checkpoint of
    /// its own: a tail recomputed without the audit key does not verify.
    package static func entrySignatureMessage(hash: [UInt8]) -> [UInt8] {
        entryDomain + hash
    }

    static let entryDomain: [UInt8] = Array("vangnet/audit-entry/v1\u{0}".utf8)

    /// An event's time as the chain holds it: whole milliseconds since 1970, rounded down.
    package static func milliseconds(_ time: Date) -> Int64 {
        Int64((time.timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// The chain's time as text, `2026-11-23T12:00:00.123Z`: exactly the milliseconds the
    /// canonical form holds (a formatter's own rounding of the fraction could differ by one), so
    /// a client recomputes the chain from the API's entries (docs/audit.md).
    package static func text(milliseconds ms: Int64) -> String {
        let (seconds, fraction) = ms.quotientAndRemainder(dividingBy: 1000)
        let whole = wholeSeconds.string(from: Date(timeIntervalSince1970: Double(seconds)))
        return whole.dropLast() + "." + String(repeating: "0", count: 3 - String(fraction).count) + String(fraction)
            + "Z"
    }

    nonisolated(unsafe) private static let wholeSeconds: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f
    }()

    /// The audit key's signature of the entry whose chain hash is `hash`.
    package static func sign(hash: [UInt8], key: SigningKeyPair) -> [UInt8] {
        key.sign(entrySignatureMessage(hash: hash))
    }

    package static func hash(_ canonical: [UInt8], sequence: Int64, previous: [UInt8]) -> [UInt8] {
        var input = domain + previous
        withUnsafeBytes(of: UInt64(sequence).bigEndian) { input.append(contentsOf: $0) }
        input.append(contentsOf: canonical)
        return GenericHash.hash(input, outputLength: 32)
    }

    private static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .millisecondsSince1970
        return d
    }()
}
