import Foundation
import VangnetCore

/// The access policy as a security officer writes and reads it (the `policy` part of the
/// configuration file). Decoded as-is; ``Policy/init(document:reference:datasets:)`` checks it.
package struct PolicyDocument: Sendable, Codable, Equatable {
    /// The RMC / Doorstroompunt regions: their member municipalities (this routes records) and
    /// their contactgemeente, the consumer that receives the region's data.
    package var regions: [Region]
    package var organisations: [Organisation]
    package var purposes: [Purpose]
    package var grants: [Grant]

    package init(regions: [Region], organisations: [Organisation], purposes: [Purpose], grants: [Grant]) {
        self.regions = regions
        self.organisations = organisations
        self.purposes = purposes
        self.grants = grants
    }

    /// A region as the policy names it.
    package struct Region: Sendable, Codable, Equatable {
        package var number: RegionNumber
        package var name: String
        /// CBS codes of the member municipalities; every municipality belongs to exactly one region.
        package var municipalities: [MunicipalityCode]
        /// The municipality that receives the region's data; `nil` until the region has named one.
        package var contactgemeente: Contactgemeente?

        package init(
            number: RegionNumber,
            name: String,
            municipalities: [MunicipalityCode],
            contactgemeente: Contactgemeente? = nil
        ) {
            self.number = number
            self.name = name
            self.municipalities = municipalities
            self.contactgemeente = contactgemeente
        }
    }

    /// A region's contactgemeente: its name and the OIN in its certificate.
    package struct Contactgemeente: Sendable, Codable, Equatable {
        package var name: String
        package var oin: OIN
        /// Its own X25519 public key (base64), to which the gateway seals the BSNs it releases;
        /// the secret half stays with the contactgemeente (`vangnet reveal`).
        package var revealKey: String?
        package init(name: String, oin: OIN, revealKey: String? = nil) {
            self.name = name
            self.oin = oin
            self.revealKey = revealKey
        }
    }

    /// An organisation known to the gateway, identified by the OIN in its certificate.
    package struct Organisation: Sendable, Codable, Equatable {
        package var oin: OIN
        package var name: String
        package var role: Role
        /// For a consumer: the region whose contactgemeente it is. May be left out of the file: it
        /// follows from `regions`; if given, it must agree.
        package var region: RegionNumber?
        /// For a source: the datasets it may push.
        package var datasets: [DatasetID]?
        /// For a source: its Ed25519 signing keys (base64 public keys).
        package var signingKeys: [String]?
        /// For a source that is an education institution: its BRIN numbers. A record of a dataset
        /// with an institution field (``DatasetSchema/institutionField``) must name one of them.
        package var brin: [String]?

        package init(
            oin: OIN,
            name: String,
            role: Role,
            region: RegionNumber? = nil,
            datasets: [DatasetID]? = nil,
            signingKeys: [String]? = nil,
            brin: [String]? = nil
        ) {
            self.oin = oin
            self.name = name
            self.role = role
            self.region = region
            self.datasets = datasets
            self.signingKeys = signingKeys
            self.brin = brin
        }
    }

    /// A purpose (doel) the law allows, with the data it needs and no more.
    package struct Purpose: Sendable, Codable, Equatable {
        package var id: PurposeID
        package var legalBasis: String
        /// The dataset whose records define who belongs to the purpose's population.
        package var populationDataset: DatasetID
        /// Conditions a population-dataset record must meet to place its person in the population.
        package var population: [RowCondition]
        /// The day ages and months in conditions are counted to.
        package var referenceDay: ReferenceDay
        /// Per dataset, the fields a region receives: of records of every version of the dataset,
        /// except a version ``fieldsByVersion`` names.
        package var fields: [String: [String]]
        /// Per dataset (one that ``fields`` names) and version (`"2"`), the fields a region
        /// receives of records of that version, where they differ from ``fields``: a new version
        /// adds a field the purpose needs, or drops one it delivered. Empty when every version
        /// delivers ``fields``.
        package var fieldsByVersion: [String: [String: [String]]]
        /// Per dataset, further conditions a record must meet to be delivered (for example only
        /// UWV months of the last year).
        package var conditions: [String: [RowCondition]]
        package var retentionDays: Int
        /// Whether, and under which controls, a contactgemeente may learn who a person of this
        /// purpose's population is; `nil` (written `false`): never.
        package var reidentification: Reidentification?
        /// Working days (Monday to Friday, Dutch national holidays excepted) within which a
        /// region is expected to collect what the purpose delivers to it (the mbo report: five);
        /// what it has not pulled by then is counted as overdue (metric, audit, review page).
        /// `nil`: no such expectation.
        package var collectWithinWorkingDays: Int?

        package init(
            id: PurposeID,
            legalBasis: String,
            populationDataset: DatasetID,
            population: [RowCondition],
            referenceDay: ReferenceDay = .today,
            fields: [String: [String]],
            fieldsByVersion: [String: [String: [String]]] = [:],
            conditions: [String: [RowCondition]] = [:],
            retentionDays: Int,
            reidentification: Reidentification? = nil,
            collectWithinWorkingDays: Int? = nil
        ) {
            self.id = id
            self.legalBasis = legalBasis
            self.populationDataset = populationDataset
            self.population = population
            self.referenceDay = referenceDay
            self.fields = fields
            self.fieldsByVersion = fieldsByVersion
            self.conditions = conditions
            self.retentionDays = retentionDays
            self.reidentification = reidentification
            self.collectWithinWorkingDays = collectWithinWorkingDays
        }

        package init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            id = try c.decode(PurposeID.self, forKey: .id)
            legalBasis = try c.decode(String.self, forKey: .legalBasis)
            populationDataset = try c.decode(DatasetID.self, forKey: .populationDataset)
            population = try c.decode([RowCondition].self, forKey: .population)
            referenceDay = try c.decodeIfPresent(ReferenceDay.self, forKey: .referenceDay) ?? .today
            fields = try c.decode([String: [String]].self, forKey: .fields)
            fieldsByVersion =
                try c.decodeIfPresent([String: [String: [String]]].self, forKey: .fieldsByVersion) ?? [:]
            conditions = try c.decodeIfPresent([String: [RowCondition]].self, forKey: .conditions) ?? [:]
            retentionDays = try c.decode(Int.self, forKey: .retentionDays)
            if (try? c.decodeIfPresent(Bool.self, forKey: .reidentification)) != nil {
                guard try c.decode(Bool.self, forKey: .reidentification) == false else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .reidentification,
                        in: c,
                        debugDescription:
                            "true is not enough: give the controls (reasons, approvers, monthlyQuota, maxPerRequest, expiresAfterHours), or false"
                    )
                }
                reidentification = nil
            } else {
                reidentification = try c.decodeIfPresent(Reidentification.self, forKey: .reidentification)
            }
            collectWithinWorkingDays = try c.decodeIfPresent(Int.self, forKey: .collectWithinWorkingDays)
        }

        package func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(legalBasis, forKey: .legalBasis)
            try c.encode(populationDataset, forKey: .populationDataset)
            try c.encode(population, forKey: .population)
            try c.encode(referenceDay, forKey: .referenceDay)
            try c.encode(fields, forKey: .fields)
            // Absent when empty, so that policies without it keep their fingerprint.
            if !fieldsByVersion.isEmpty { try c.encode(fieldsByVersion, forKey: .fieldsByVersion) }
            try c.encode(conditions, forKey: .conditions)
            try c.encode(retentionDays, forKey: .retentionDays)
            // `false` when not allowed, as the document has always said it.
            if let reidentification {
                try c.encode(reidentification, forKey: .reidentification)
            } else {
                try c.encode(false, forKey: .reidentification)
            }
            // Absent when not set, so that policies without it keep their fingerprint.
            try c.encodeIfPresent(collectWithinWorkingDays, forKey: .collectWithinWorkingDays)
        }

        private enum CodingKeys: String, CodingKey {
            case id, legalBasis, populationDataset, population, referenceDay, fields, conditions, retentionDays
            case reidentification, collectWithinWorkingDays, fieldsByVersion
        }

        /// The fields of `dataset` a region receives of a record of `version`; `nil` if the
        /// purpose delivers nothing of the dataset.
        package func fields(of dataset: DatasetID, version: Int) -> [String]? {
            fieldsByVersion[dataset.value]?[String(version)] ?? fields[dataset.value]
        }

        /// Every field of `dataset` the purpose delivers of some version, in the order first
        /// named (``fields``, then each version of ``fieldsByVersion`` in version order): the
        /// columns of a CSV page.
        package func allFields(of dataset: DatasetID) -> [String] {
            let versions = (fieldsByVersion[dataset.value] ?? [:]).sorted { (Int($0.key) ?? 0) < (Int($1.key) ?? 0) }
            return ([fields[dataset.value] ?? []] + versions.map(\.value)).joined().reduce(into: []) {
                if !$0.contains($1) { $0.append($1) }
            }
        }

        /// The conditions a record of `dataset` must meet besides population membership.
        package func conditions(for dataset: DatasetID) -> [RowCondition] { conditions[dataset.value] ?? [] }
    }

    /// The controls of a purpose that allows re-identification: a closed list of reasons, who
    /// decides, how many people a region may identify a month, and how long a request waits.
    package struct Reidentification: Sendable, Codable, Equatable {
        /// The reason codes a request may give (for example `rmc-contactpoging`).
        package var reasons: [String]
        /// The organisations (role `approver` or `auditor`) that may approve or refuse a request;
        /// never the requester itself.
        package var approvers: [OIN]
        /// The most people a region may ask to identify for this purpose in one calendar month
        /// (Europe/Amsterdam), counting requests waiting, approved and released.
        package var monthlyQuota: Int
        /// The most pseudonyms one request may name.
        package var maxPerRequest: Int
        /// Hours a request waits for its decision, and an approved one for its release.
        package var expiresAfterHours: Int

        package init(
            reasons: [String],
            approvers: [OIN],
            monthlyQuota: Int,
            maxPerRequest: Int,
            expiresAfterHours: Int = 72
        ) {
            (self.reasons, self.approvers, self.monthlyQuota, self.maxPerRequest, self.expiresAfterHours) = (
                reasons, approvers, monthlyQuota, maxPerRequest, expiresAfterHours
            )
        }
    }

    /// Which purposes a consumer may pull. Everything not granted is denied.
    package struct Grant: Sendable, Codable, Equatable {
        package var consumer: OIN
        package var purposes: [PurposeID]

        package init(consumer: OIN, purposes: [PurposeID]) {
            self.consumer = consumer
            self.purposes = purposes
        }
    }
}

extension PolicyDocument.Region {
    /// The 40 regions of the embedded reference data with their municipalities; no contactgemeente.
    package static func fromReference(_ reference: ReferenceData = .embedded) -> [PolicyDocument.Region] {
        reference.regions.values.sorted { $0.number.value < $1.number.value }.map { region in
            PolicyDocument.Region(
                number: region.number,
                name: region.name,
                municipalities: region.municipalities.sorted { $0.value < $1.value }
            )
        }
    }
}
