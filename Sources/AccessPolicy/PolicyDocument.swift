import Foundation
import VangnetCore

/// The access policy as a security officer writes and reads it (the `policy` part of the
/// configuration file). Decoded as-is; ``Policy/init(document:reference:schemas:)`` checks it.
public struct PolicyDocument: Sendable, Codable, Equatable {
    /// The RMC / Doorstroompunt regions: their member municipalities (this routes records) and
    /// their contactgemeente, the consumer that receives the region's data.
    public var regions: [Region]
    public var organisations: [Organisation]
    public var purposes: [Purpose]
    public var grants: [Grant]

    public init(regions: [Region], organisations: [Organisation], purposes: [Purpose], grants: [Grant]) {
        self.regions = regions
        self.organisations = organisations
        self.purposes = purposes
        self.grants = grants
    }

    /// A region as the policy names it.
    public struct Region: Sendable, Codable, Equatable {
        public var number: RegionNumber
        public var name: String
        /// CBS codes of the member municipalities; every municipality belongs to exactly one region.
        public var municipalities: [MunicipalityCode]
        /// The municipality that receives the region's data; `nil` until the region has named one.
        public var contactgemeente: Contactgemeente?

        public init(number: RegionNumber, name: String, municipalities: [MunicipalityCode], contactgemeente: Contactgemeente? = nil) {
            self.number = number
            self.name = name
            self.municipalities = municipalities
            self.contactgemeente = contactgemeente
        }
    }

    /// A region's contactgemeente: its name and the OIN in its certificate.
    public struct Contactgemeente: Sendable, Codable, Equatable {
        public var name: String
        public var oin: OIN
        public init(name: String, oin: OIN) {
            self.name = name
            self.oin = oin
        }
    }

    /// An organisation known to the gateway, identified by the OIN in its certificate.
    public struct Organisation: Sendable, Codable, Equatable {
        public var oin: OIN
        public var name: String
        public var role: Role
        /// For a consumer: the region whose contactgemeente it is. May be left out of the file: it
        /// follows from `regions`; if given, it must agree.
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
        /// Conditions a population-dataset record must meet to place its person in the population.
        public var population: [RowCondition]
        /// The day ages and months in conditions are counted to.
        public var referenceDay: ReferenceDay
        /// Per dataset, the fields a region receives.
        public var fields: [String: [String]]
        /// Per dataset, further conditions a record must meet to be delivered (for example only
        /// UWV months of the last year).
        public var conditions: [String: [RowCondition]]
        public var retentionDays: Int
        public var reidentification: Bool

        public init(id: PurposeID, legalBasis: String, populationDataset: DatasetID, population: [RowCondition],
                    referenceDay: ReferenceDay = .today, fields: [String: [String]], conditions: [String: [RowCondition]] = [:],
                    retentionDays: Int, reidentification: Bool = false) {
            self.id = id
            self.legalBasis = legalBasis
            self.populationDataset = populationDataset
            self.population = population
            self.referenceDay = referenceDay
            self.fields = fields
            self.conditions = conditions
            self.retentionDays = retentionDays
            self.reidentification = reidentification
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decode(PurposeID.self, forKey: .id)
            legalBasis = try c.decode(String.self, forKey: .legalBasis)
            populationDataset = try c.decode(DatasetID.self, forKey: .populationDataset)
            population = try c.decode([RowCondition].self, forKey: .population)
            referenceDay = try c.decodeIfPresent(ReferenceDay.self, forKey: .referenceDay) ?? .today
            fields = try c.decode([String: [String]].self, forKey: .fields)
            conditions = try c.decodeIfPresent([String: [RowCondition]].self, forKey: .conditions) ?? [:]
            retentionDays = try c.decode(Int.self, forKey: .retentionDays)
            reidentification = try c.decodeIfPresent(Bool.self, forKey: .reidentification) ?? false
        }

        /// The conditions a record of `dataset` must meet besides population membership.
        public func conditions(for dataset: DatasetID) -> [RowCondition] { conditions[dataset.value] ?? [] }
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

extension PolicyDocument.Region {
    /// The 40 regions of the embedded reference data with their municipalities; no contactgemeente.
    public static func fromReference(_ reference: ReferenceData = .embedded) -> [PolicyDocument.Region] {
        reference.regions.values.sorted { $0.number.value < $1.number.value }.map { region in
            PolicyDocument.Region(number: region.number, name: region.name,
                                  municipalities: region.municipalities.sorted { $0.value < $1.value })
        }
    }
}
