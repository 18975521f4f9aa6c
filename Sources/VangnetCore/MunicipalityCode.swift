/// A CBS municipality code, `GM` and four digits (for example `GM0344`, Utrecht).
public struct MunicipalityCode: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public let value: String

    /// `nil` unless `value` has the form `GMdddd`. Existence is checked against ``ReferenceData``.
    public init?(_ value: String) {
        let u = Array(value.utf8)
        guard u.count == 6, u[0] == 0x47, u[1] == 0x4D, u[2...].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        self.value = value
    }

    public var description: String { value }
    public static func < (a: Self, b: Self) -> Bool { a.value < b.value }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let code = MunicipalityCode(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a municipality code has the form GMdddd"))
        }
        self = code
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}
