import Foundation
import VangnetCore
import VangnetCrypto

/// The audit log as a file an auditor can keep and verify offline: NDJSON (for tools) or CSV (for
/// spreadsheets). Both hold the signed checkpoints first, then every entry with its exact
/// canonical bytes and hashes, so `vangnet audit verify --export FILE` recomputes the same chain.
///
/// NDJSON lines: `{"type":"checkpoint", ...AuditCheckpoint}` and
/// `{"type":"entry","seq":n,"prevHash":"hex","hash":"hex","sig":"base64","event":<canonical event JSON>}`
/// (`sig`, the entry's own signature by the audit key, absent for an unsigned entry; the event
/// object is the canonical bytes, verbatim, at the end of the line).
/// CSV columns: see ``csvColumns``; `event` holds the canonical JSON, an entry's `signature` its
/// own signature, and every other column must be what `event` says (verification checks it).
package enum AuditExport {
    package enum Format: String, Sendable, CaseIterable {
        case ndjson, csv
    }

    package static let csvColumns = [
        "type", "seq", "time", "actor", "role", "action", "object", "region", "purpose", "dataset",
        "outcome", "reason", "counts", "prev_hash", "hash", "key_id", "signature", "event",
    ]

    /// The first line of a file in `format` (CSV header), if any.
    package static func preamble(_ format: Format) -> String? {
        format == .csv ? csvColumns.joined(separator: ",") : nil
    }

    package static func line(_ checkpoint: AuditCheckpoint, _ format: Format) -> String {
        switch format {
        case .ndjson:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let body = String(decoding: (try? encoder.encode(checkpoint)) ?? Data(), as: UTF8.self)
            return #"{"type":"checkpoint","# + body.dropFirst()
        case .csv:
            var row = [String](repeating: "", count: csvColumns.count)
            row[0] = "checkpoint"
            row[1] = String(checkpoint.sequence)
            row[2] = String(checkpoint.time)
            row[14] = checkpoint.hash
            row[15] = checkpoint.keyId
            row[16] = checkpoint.signature
            return row.map(csvField).joined(separator: ",")
        }
    }

    package static func line(
        sequence: Int64,
        canonical: [UInt8],
        previousHash: [UInt8],
        hash: [UInt8],
        signature: [UInt8]? = nil,
        _ format: Format
    ) -> String {
        let canonicalText = String(decoding: canonical, as: UTF8.self)
        let signatureText = signature.map { Data($0).base64EncodedString() }
        switch format {
        case .ndjson:
            let sig = signatureText.map { #","sig":"\#($0)""# } ?? ""
            return
                #"{"type":"entry","seq":\#(sequence),"prevHash":"\#(Hex.encode(previousHash))","hash":"\#(Hex.encode(hash))"\#(sig),"event":\#(canonicalText)}"#
        case .csv:
            let event = try? AuditChain.decode(canonical)
            let counts =
                event.map { e in
                    "{" + e.counts.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
                        + "}"
                } ?? ""
            let row = [
                "entry", String(sequence),
                event.map { AuditChain.text(milliseconds: AuditChain.milliseconds($0.time)) } ?? "",
                event?.actor?.value ?? "", event?.role?.rawValue ?? "", event?.action.rawValue ?? "",
                event?.object ?? "",
                event?.region.map { String($0.value) } ?? "", event?.purpose?.value ?? "", event?.dataset?.value ?? "",
                event?.outcome.rawValue ?? "", event?.reason ?? "", counts, Hex.encode(previousHash), Hex.encode(hash),
                "", signatureText ?? "",
                canonicalText,
            ]
            return row.map(csvField).joined(separator: ",")
        }
    }

    /// Verifies an exported file's lines (either format, recognised by its first line).
    /// - Throws: ``ExportError`` if a line cannot be read at all.
    package static func verify(
        _ text: String,
        held: [AuditCheckpoint] = [],
        key: SigningPublicKey?
    ) throws -> AuditVerdict {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)[...]
        let csv = lines.first.map { $0.hasPrefix("type,") } ?? false
        if csv { lines = lines.dropFirst() }
        var checkpoints: [AuditCheckpoint] = []
        var verifier: AuditVerifier?
        for (index, line) in lines.enumerated() {
            let number = index + (csv ? 2 : 1)
            let fields = csv ? try parseCSV(line, line: number) : []
            let type =
                csv
                ? fields[0]
                : (line.hasPrefix(#"{"type":"checkpoint""#)
                    ? "checkpoint" : line.hasPrefix(#"{"type":"entry""#) ? "entry" : "")
            switch type {
            case "checkpoint":
                guard verifier == nil else {
                    throw ExportError(
                        line: number,
                        reason: "a checkpoint after the first entry (checkpoints come first)"
                    )
                }
                if csv {
                    guard let sequence = Int64(fields[1]), let time = Int64(fields[2]) else {
                        throw ExportError(line: number, reason: "not a checkpoint row")
                    }
                    checkpoints.append(
                        AuditCheckpoint(
                            sequence: sequence,
                            hash: fields[14],
                            time: time,
                            keyId: fields[15],
                            signature: fields[16]
                        )
                    )
                } else {
                    do {
                        checkpoints.append(try JSONDecoder().decode(AuditCheckpoint.self, from: Data(line.utf8)))
                    } catch { throw ExportError(line: number, reason: "not a checkpoint line") }
                }
            case "entry":
                if verifier == nil { verifier = AuditVerifier(checkpoints: checkpoints, held: held, key: key) }
                let entry: (sequence: Int64, canonical: [UInt8], previous: [UInt8], hash: [UInt8], signature: [UInt8]?)
                if csv {
                    guard let sequence = Int64(fields[1]), let previous = Hex.decode(fields[13]),
                        let hash = Hex.decode(fields[14])
                    else {
                        throw ExportError(line: number, reason: "not an entry row")
                    }
                    var signature: [UInt8]?
                    if !fields[16].isEmpty {
                        guard let bytes = Data(base64Encoded: fields[16]) else {
                            throw ExportError(line: number, reason: "the signature is not base64")
                        }
                        signature = Array(bytes)
                    }
                    entry = (sequence, Array(fields[17].utf8), previous, hash, signature)
                    // The readable columns are what a reviewer reads: each must be what the chained
                    // event says, or the row was edited outside the chain.
                    let expected = try parseCSV(
                        Substring(
                            Self.line(
                                sequence: sequence,
                                canonical: entry.canonical,
                                previousHash: previous,
                                hash: hash,
                                signature: entry.signature,
                                .csv
                            )
                        ),
                        line: number
                    )
                    if let column = csvColumns.indices.first(where: { fields[$0] != expected[$0] }) {
                        verifier!.fail(
                            sequence: sequence,
                            reason:
                                "its \(csvColumns[column]) column differs from the chained entry (edited outside the chain)"
                        )
                    }
                } else {
                    guard let split = line.range(of: #","event":"#), line.hasSuffix("}") else {
                        throw ExportError(line: number, reason: "not an entry line")
                    }
                    struct Head: Decodable {
                        let seq: Int64
                        let prevHash: String
                        let hash: String
                        let sig: String?
                    }
                    guard
                        let head = try? JSONDecoder().decode(
                            Head.self,
                            from: Data((line[..<split.lowerBound] + "}").utf8)
                        ),
                        let previous = Hex.decode(head.prevHash), let hash = Hex.decode(head.hash)
                    else {
                        throw ExportError(line: number, reason: "not an entry line")
                    }
                    let signature = try head.sig.map { text in
                        guard let bytes = Data(base64Encoded: text) else {
                            throw ExportError(line: number, reason: "the signature is not base64")
                        }
                        return Array(bytes)
                    }
                    entry = (
                        head.seq, Array(line[split.upperBound..<line.index(before: line.endIndex)].utf8), previous,
                        hash, signature
                    )
                }
                verifier!.check(
                    sequence: entry.sequence,
                    canonicalEvent: entry.canonical,
                    previousHash: entry.previous,
                    hash: entry.hash,
                    signature: entry.signature
                )
            default:
                throw ExportError(line: number, reason: "neither a checkpoint nor an entry")
            }
        }
        return (verifier ?? AuditVerifier(checkpoints: checkpoints, held: held, key: key)).verdict()
    }

    /// A file that is not an audit export.
    package struct ExportError: Error, CustomStringConvertible {
        package let line: Int
        package let reason: String
        package var description: String { "line \(line): \(reason)" }
    }

    static func csvField(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// One CSV row (RFC 4180 quoting, no line breaks inside fields) with exactly the export's columns.
    static func parseCSV(_ line: Substring, line number: Int) throws -> [String] {
        var fields: [String] = []
        var field = ""
        var quoted = false
        var index = line.startIndex
        while index < line.endIndex {
            let c = line[index]
            if quoted {
                if c == "\"" {
                    let next = line.index(after: index)
                    if next < line.endIndex, line[next] == "\"" {
                        field.append("\"")
                        index = next
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                fields.append(field)
                field = ""
            } else {
                field.append(c)
            }
            index = line.index(after: index)
        }
        fields.append(field)
        guard fields.count == csvColumns.count, !quoted else {
            throw ExportError(line: number, reason: "expected \(csvColumns.count) columns")
        }
        return fields
    }
}

extension AuditCheckpoint {
    /// A checkpoint as read from an export (its signature is checked by the verifier).
    package init(sequence: Int64, hash: String, time: Int64, keyId: String, signature: String) {
        self.sequence = sequence
        self.hash = hash
        self.time = time
        self.keyId = keyId
        self.signature = signature
    }
}

extension ISO8601DateFormatter {
    /// UTC with milliseconds: `2026-11-23T12:00:00.000Z` (exports, the auditor API, logs).
    nonisolated(unsafe) package static let vangnet: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
}
