/// The number of an RMC / Doorstroompunt region, 1 to 40.
public struct RegionNumber: Sendable, Hashable, Codable, Comparable, CustomStringConvertible, RawRepresentable {
    public let value: Int

    public init?(_ value: Int) {
        guard (1...40).contains(value) else { return nil }
        self.value = value
    }

    public var description: String { String(value) }
    public static func < (a: Self, b: Self) -> Bool { a.value < b.value }

    // Codable through RawRepresentable: a JSON number, validated on decoding.
    public init?(rawValue: Int) { self.init(rawValue) }
    public var rawValue: Int { value }
}

/// An RMC / Doorstroompunt region: its number, name and member municipalities.
public struct Region: Sendable, Hashable {
    public let number: RegionNumber
    public let name: String
    public let municipalities: Set<MunicipalityCode>
}

/// A municipality from the CBS list.
public struct Municipality: Sendable, Hashable {
    public let code: MunicipalityCode
    public let name: String
}
