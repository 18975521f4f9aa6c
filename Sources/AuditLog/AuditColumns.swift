import VangnetCore

/// The readable columns a store keeps beside an entry's canonical bytes, for filtering (actor,
/// region, outcome, ...). They are outside the hash, so the verifier checks each against the
/// chained bytes: a column edited to hide an entry from a filter breaks verification.
package struct AuditColumns {
    /// A text column's UTF-8: a string, or a buffer into the database's current row (valid while
    /// the entry is checked; no copy per entry).
    package enum Text {
        case string(String)
        case buffer(UnsafeBufferPointer<UInt8>)
    }

    /// Seconds since 1970, as stored.
    package var time: Double
    package var actor: Text?
    package var action: Text?
    package var role: Text?
    package var outcome: Text?
    package var region: Int64?

    package init(time: Double, actor: Text?, action: Text?, role: Text?, outcome: Text?, region: Int64?) {
        self.time = time
        self.actor = actor
        self.action = action
        self.role = role
        self.outcome = outcome
        self.region = region
    }

    /// The first column that differs from the canonical bytes `canonical`, or `nil` if all agree.
    /// One pass over the bytes and no allocation: verification runs it for every entry.
    package func mismatch(with canonical: [UInt8]) -> String? {
        let fields = CanonicalFields(canonical)
        if !fields.string(fields.action, equals: action) { return "action" }
        if !fields.string(fields.actor, equals: actor) { return "actor" }
        if !fields.string(fields.role, equals: role) { return "role" }
        if !fields.string(fields.outcome, equals: outcome) { return "outcome" }
        if fields.integer(fields.region) != region { return "region" }
        if fields.integer(fields.time) != Int64((time * 1000).rounded(.down)) { return "time" }
        return nil
    }
}

/// Where the members a store keeps as columns sit in a canonical event
/// (``AuditChain/canonicalBytes(_:)``): the byte range of each value, found in one pass over the
/// top level. Nested objects (`counts`) are skipped whole; strings keep their quotes.
struct CanonicalFields {
    let bytes: [UInt8]
    private(set) var action: Range<Int>?
    private(set) var actor: Range<Int>?
    private(set) var role: Range<Int>?
    private(set) var outcome: Range<Int>?
    private(set) var region: Range<Int>?
    private(set) var time: Range<Int>?

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var i = bytes.startIndex
        guard i < bytes.endIndex, bytes[i] == UInt8(ascii: "{") else { return }
        i += 1
        while i < bytes.endIndex, bytes[i] == UInt8(ascii: "\"") {
            let keyStart = i + 1
            guard let keyEnd = Self.endOfString(bytes, from: i), keyEnd + 1 < bytes.endIndex,
                bytes[keyEnd + 1] == UInt8(ascii: ":")
            else { return }
            let valueStart = keyEnd + 2
            guard let valueEnd = Self.endOfValue(bytes, from: valueStart) else { return }
            let value = valueStart..<valueEnd
            let key = bytes[keyStart..<keyEnd]
            // By length first: most members are not columns, and a length rules them out.
            switch key.count {
            case 4 where key.elementsEqual(Self.roleKey): role = value
            case 4 where key.elementsEqual(Self.timeKey): time = value
            case 5 where key.elementsEqual(Self.actorKey): actor = value
            case 6 where key.elementsEqual(Self.actionKey): action = value
            case 6 where key.elementsEqual(Self.regionKey): region = value
            case 7 where key.elementsEqual(Self.outcomeKey): outcome = value
            default: break
            }
            i = valueEnd
            guard i < bytes.endIndex, bytes[i] == UInt8(ascii: ",") else { return }
            i += 1
        }
    }

    private static let actionKey = Array("action".utf8), actorKey = Array("actor".utf8), roleKey = Array("role".utf8),
        outcomeKey = Array("outcome".utf8), regionKey = Array("region".utf8), timeKey = Array("time".utf8)

    /// Whether the string value at `range` is `expected` (both absent counts as equal).
    func string(_ range: Range<Int>?, equals expected: AuditColumns.Text?) -> Bool {
        guard let range, let expected else { return range == nil && expected == nil }
        guard range.count >= 2, bytes[range.lowerBound] == UInt8(ascii: "\""),
            bytes[range.upperBound - 1] == UInt8(ascii: "\"")
        else { return false }
        let inner = bytes[(range.lowerBound + 1)..<(range.upperBound - 1)]
        if !inner.contains(UInt8(ascii: "\\")) {
            switch expected {
            case .string(let text): return inner.elementsEqual(text.utf8)
            case .buffer(let buffer): return inner.elementsEqual(buffer)
            }
        }
        let text: String
        switch expected {
        case .string(let string): text = string
        case .buffer(let buffer): text = String(decoding: buffer, as: UTF8.self)
        }
        var encoded: [UInt8] = []
        JSONText.appendString(text, to: &encoded)
        return bytes[range].elementsEqual(encoded)
    }

    /// The integer value at `range`, if it is one.
    func integer(_ range: Range<Int>?) -> Int64? {
        guard let range, !range.isEmpty else { return nil }
        var value: Int64 = 0
        var negative = false
        for (offset, byte) in bytes[range].enumerated() {
            if offset == 0, byte == UInt8(ascii: "-") {
                negative = true
                continue
            }
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            value = shifted + Int64(byte - 0x30)
        }
        return negative ? -value : value
    }

    /// The index of the closing quote of the string that opens at `start`.
    private static func endOfString(_ bytes: [UInt8], from start: Int) -> Int? {
        var i = start + 1
        while i < bytes.endIndex {
            switch bytes[i] {
            case UInt8(ascii: "\\"): i += 2
            case UInt8(ascii: "\""): return i
            default: i += 1
            }
        }
        return nil
    }

    /// The index just after the value that starts at `start` (string, number or object).
    private static func endOfValue(_ bytes: [UInt8], from start: Int) -> Int? {
        guard start < bytes.endIndex else { return nil }
        switch bytes[start] {
        case UInt8(ascii: "\""):
            return endOfString(bytes, from: start).map { $0 + 1 }
        case UInt8(ascii: "{"):
            var depth = 0
            var i = start
            while i < bytes.endIndex {
                switch bytes[i] {
                case UInt8(ascii: "\""):
                    guard let end = endOfString(bytes, from: i) else { return nil }
                    i = end
                case UInt8(ascii: "{"): depth += 1
                case UInt8(ascii: "}"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default: break
                }
                i += 1
            }
            return nil
        default:
            var i = start
            while i < bytes.endIndex, bytes[i] != UInt8(ascii: ","), bytes[i] != UInt8(ascii: "}") { i += 1 }
            return i
        }
    }
}
