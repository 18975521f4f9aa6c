/// The number of an RMC / Doorstroompunt region, 1 to 40.
public struct RegionNumber: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public let value: Int

    public init?(_ value: Int) {
        guard (1...40).contains(value) else { return nil }
        self.value = value
    }

    public var description: String { String(value) }
    public static func < (a: Self, b: Self) -> Bool { a.value < b.value }

    public init(from decoder: any Decoder) throws {
        let number = try decoder.singleValueContainer().decode(Int.self)
        guard let region = RegionNumber(number) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a region number is 1 to 40"))
        }
        self = region
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
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
