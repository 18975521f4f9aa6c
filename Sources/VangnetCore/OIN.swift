/// An Organisatie-identificatienummer: the 20-digit number that identifies a Dutch government
/// organisation, carried in the subject `serialNumber` of its PKIoverheid certificate.
public struct OIN: Sendable, Hashable, Codable, Comparable, CustomStringConvertible, RawRepresentable {
    /// The 20 digits.
    public let value: String

    /// `nil` unless `value` is exactly 20 ASCII digits.
    public init?(_ value: String) {
        guard value.utf8.count == 20, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        self.value = value
    }

    /// Whether this is a test OIN (prefix `00000099`), the only kind tests and demos use.
    public var isTest: Bool { value.hasPrefix("00000099") }

    public var description: String { value }

    public static func < (a: OIN, b: OIN) -> Bool { a.value < b.value }

    // Codable through RawRepresentable: a JSON string, validated on decoding.
    public init?(rawValue: String) { self.init(rawValue) }
    public var rawValue: String { value }
}
