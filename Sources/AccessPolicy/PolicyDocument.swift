import Foundation
import VangnetCore

/// The access policy as a security officer writes and reads it (the `policy` part of the
/// configuration file). Decoded as-is; ``Policy/init(document:reference:)`` checks it.
public struct PolicyDocument: Sendable, Codable, Equatable {
    public var organisations: [Organisation]
    public var purposes: [Purpose]
    public var grants: [Grant]

    public init(organisations: [Organisation], purposes: [Purpose], grants: [Grant]) {
        self.organisations = organisations
        self.purposes = purposes
        self.grants = grants
    }

    /// An organisation known to the gateway, identified by the OIN in its certificate.
    public struct Organisation: Sendable, Codable, Equatable {
        public var oin: OIN
        public var name: String
        public var role: Role
        /// For a consumer: the region whose contactgemeente it is.
        public var region: RegionNumber?
        /// For a source: the datasets it may push.
        public var datasets: [DatasetID]?
        /// For a source: its Ed25519 signing keys (base64 public keys).
        public var signingKeys: [String]?

        public init(oin: OIN, name: String, role: Role, region: RegionNumber? = nil, datasets: [DatasetID]? = nil, signingKeys: [String]? = nil) {
            self.oin = oin
            self.name = name
            self.role = role
            self.region = region
            self.datasets = datasets
            self.signingKeys = signingKeys
        }
    }

    /// A purpose (doel) the law allows, with the data it needs and no more.
    public struct Purpose: Sendable, Codable, Equatable {
        public var id: PurposeID
        public var legalBasis: String
        /// The dataset whose records define who belongs to the purpose's population.
        public var populationDataset: DatasetID
        /// Conditions a population record must meet.
        public var population: [RowCondition]
        /// Per dataset, the fields a region receives.
        public var fields: [String: [String]]
        public var retentionDays: Int
        public var reidentification: Bool

        public init(id: PurposeID, legalBasis: String, populationDataset: DatasetID, population: [RowCondition],
                    fields: [String: [String]], retentionDays: Int, reidentification: Bool = false) {
            self.id = id
            self.legalBasis = legalBasis
            self.populationDataset = populationDataset
            self.population = population
            self.fields = fields
            self.retentionDays = retentionDays
            self.reidentification = reidentification
        }
    }

    /// Which purposes a consumer may pull. Everything not granted is denied.
    public struct Grant: Sendable, Codable, Equatable {
        public var consumer: OIN
        public var purposes: [PurposeID]

        public init(consumer: OIN, purposes: [PurposeID]) {
            self.consumer = consumer
            self.purposes = purposes
        }
    }
}

/// A condition on a record's field. Exactly one of `equals`, `oneOf` or an age bound is set.
///
/// JSON: `{"field": "vsv", "equals": true}`, `{"field": "onderwijssoort", "oneOf": ["pro", "vso"]}`,
/// `{"field": "geboortedatum", "ageAtLeast": 12, "ageAtMost": 27}` (age on the day of the pull).
public struct RowCondition: Sendable, Codable, Equatable {
    public var field: String
    public var equals: ConditionValue?
    public var oneOf: [String]?
    public var ageAtLeast: Int?
    public var ageAtMost: Int?

    public init(field: String, equals: ConditionValue? = nil, oneOf: [String]? = nil, ageAtLeast: Int? = nil, ageAtMost: Int? = nil) {
        self.field = field
        self.equals = equals
        self.oneOf = oneOf
        self.ageAtLeast = ageAtLeast
        self.ageAtMost = ageAtMost
    }
}

/// A literal in a row condition.
public enum ConditionValue: Sendable, Codable, Equatable {
    case text(String)
    case boolean(Bool)
    case integer(Int)

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .boolean(b) }
        else if let i = try? c.decode(Int.self) { self = .integer(i) }
        else { self = .text(try c.decode(String.self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .text(let s): try c.encode(s)
        case .boolean(let b): try c.encode(b)
        case .integer(let i): try c.encode(i)
        }
    }
}
