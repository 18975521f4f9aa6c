import VangnetCore

/// The readable columns a store keeps beside an entry's canonical bytes, for filtering (actor,
/// region, outcome, ...). They are outside the hash, so the verifier checks each against the
/// chained bytes: a column edited to hide an entry from a filter breaks verification.
public struct AuditColumns: Sendable, Equatable {
    /// Seconds since 1970, as stored.
    public var time: Double
    public var actor: String?
    public var action: String
    public var role: String?
    public var outcome: String?
    public var region: Int64?

    public init(time: Double, actor: String?, action: String, role: String?, outcome: String?, region: Int64?) {
        self.time = time
        self.actor = actor
        self.action = action
        self.role = role
        self.outcome = outcome
        self.region = region
    }

    /// The columns of `event`, as a store writes them.
    public init(_ event: AuditEvent) {
        self.init(time: event.time.timeIntervalSince1970, actor: event.actor?.value, action: event.action.rawValue, role: event.role?.rawValue,
                  outcome: event.outcome.rawValue, region: event.region.map { Int64($0.value) })
    }

    /// The first column that differs from the canonical bytes `canonical`, or `nil` if all agree.
    public func mismatch(with canonical: [UInt8]) -> String? {
        let fields = CanonicalFields(canonical)
        func string(_ value: String?) -> [UInt8]? {
            guard let value else { return nil }
            var out: [UInt8] = []
            JSONText.appendString(value, to: &out)
            return out
        }
        if fields["action"] != string(action) { return "action" }
        if fields["actor"] != string(actor) { return "actor" }
        if fields["role"] != string(role) { return "role" }
        if fields["outcome"] != string(outcome) { return "outcome" }
        if fields["region"] != region.map({ Array(String($0).utf8) }) { return "region" }
        if fields["time"] != Array(String(Int64((time * 1000).rounded(.down))).utf8) { return "time" }
        return nil
    }
}

/// The top-level members of a canonical event (``AuditChain/canonicalBytes(_:)``), each as the raw
/// bytes of its JSON value. Nested objects (`counts`) are skipped whole; strings are kept with
/// their quotes and escapes, so they compare byte for byte with a value encoded the same way.
struct CanonicalFields {
    private var members: [(key: ArraySlice<UInt8>, value: ArraySlice<UInt8>)] = []

    init(_ bytes: [UInt8]) {
        var i = bytes.startIndex
        guard i < bytes.endIndex, bytes[i] == UInt8(ascii: "{") else { return }
        i += 1
        while i < bytes.endIndex, bytes[i] == UInt8(ascii: "\"") {
            let keyStart = i + 1
            guard let keyEnd = Self.endOfString(bytes, from: i), keyEnd + 1 < bytes.endIndex, bytes[keyEnd + 1] == UInt8(ascii: ":") else { return }
            let valueStart = keyEnd + 2
            guard let valueEnd = Self.endOfValue(bytes, from: valueStart) else { return }
            members.append((bytes[keyStart..<keyEnd], bytes[valueStart..<valueEnd]))
            i = valueEnd
            guard i < bytes.endIndex, bytes[i] == UInt8(ascii: ",") else { return }
            i += 1
        }
    }

    /// The raw value of member `key`, if present.
    subscript(key: String) -> [UInt8]? {
        let name = Array(key.utf8)
        return members.first { $0.key.elementsEqual(name) }.map { Array($0.value) }
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
            var depth = 0, i = start
            while i < bytes.endIndex {
                switch bytes[i] {
                case UInt8(ascii: "\""): guard let end = endOfString(bytes, from: i) else { return nil }; i = end
                case UInt8(ascii: "{"): depth += 1
                case UInt8(ascii: "}"): depth -= 1; if depth == 0 { return i + 1 }
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
