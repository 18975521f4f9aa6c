import Records
import VangnetCore

/// What one consumer receives for one purpose, and for everything it does not receive, why.
///
/// A value built from the policy alone (``Policy/explain(consumer:purpose:)``): the same answer
/// for `vangnet policy explain`, for a consumer asking `GET /v1/me` and for an auditor asking
/// about any consumer.
package struct Explanation: Sendable, Codable, Equatable {
    package struct Refusal: Sendable, Codable, Equatable {
        package let code: String
        package let reason: String
    }

    /// A field that is not delivered, and why.
    package struct Withheld: Sendable, Codable, Equatable {
        package let field: String
        package let reason: String
    }

    /// One version of a dataset: which of its records are delivered, which fields of them, and
    /// what is withheld.
    package struct DatasetView: Sendable, Codable, Equatable {
        package let dataset: DatasetID
        /// The version of the dataset (records keep the version they came with).
        package let version: Int
        /// Which records, in words.
        package let records: String
        /// Conditions each delivered record meets (records that fail one are withheld).
        package let conditions: [String]
        package let delivered: [String]
        package let withheld: [Withheld]
    }

    package let consumer: OIN
    package let consumerName: String?
    package let region: RegionNumber?
    package let regionName: String?
    package let purpose: PurposeID
    package let legalBasis: String?
    /// `permit` or `deny`.
    package let decision: String
    package let refusal: Refusal?
    /// The day ages and months are counted to.
    package let referenceDay: String?
    /// Conditions on the population dataset's record that place a person in the population.
    package let population: [String]
    package let datasets: [DatasetView]
    package let retentionDays: Int?
    package let reidentification: Bool?
    package let policyVersion: String

    package var permitted: Bool { refusal == nil }
}

extension Policy {
    /// What `consumer` receives for `purpose` under this policy, and why not the rest.
    package func explain(consumer oin: OIN, purpose id: PurposeID) -> Explanation {
        let purpose = purposes[id]
        var region: RegionNumber?
        let denial: Denial?
        switch callers[oin] {
        case .consumer(let consumer):
            region = consumer.region
            if case .deny(let d) = mayPull(consumer: consumer, purpose: id) { denial = d } else { denial = nil }
        case let other?:
            denial = Denial(.wrongRole, "\(other.name) is not a consumer organisation")
        case nil:
            denial = Denial(.unknownOrganisation, "OIN \(oin) is not a known organisation")
        }
        let bsnReason =
            "the BSN never leaves the gateway: each record carries a pseudonym for (region, purpose, key epoch) instead"
        let datasets = catalog.all.map { schema -> Explanation.DatasetView in
            let dataset = schema.id
            guard let purpose, let delivered = purpose.fields(of: dataset, version: schema.version), denial == nil,
                let region
            else {
                let why = denial?.reason ?? "\(id) does not use \(dataset)"
                return .init(
                    dataset: dataset,
                    version: schema.version,
                    records: "none: \(why)",
                    conditions: [],
                    delivered: [],
                    withheld: schema.fields.map {
                        .init(field: $0.name, reason: $0.name == schema.bsnField ? bsnReason : why)
                    }
                )
            }
            let records: String
            var conditions = purpose.conditions(for: dataset).map(\.description)
            if dataset == purpose.populationDataset {
                records =
                    "records of residents of region \(region) (by their municipality) that place them in the population"
                conditions = purpose.population.map(\.description) + conditions
            } else {
                records = "records of people in the population, whichever municipality the record names"
            }
            let withheld = schema.fields.filter { !delivered.contains($0.name) }.map { field in
                Explanation.Withheld(
                    field: field.name,
                    reason: field.name == schema.bsnField
                        ? bsnReason : "not needed for \(id): the purpose does not list it"
                )
            }
            return .init(
                dataset: dataset,
                version: schema.version,
                records: records,
                conditions: conditions,
                delivered: delivered,
                withheld: withheld
            )
        }
        return Explanation(
            consumer: oin,
            consumerName: callers[oin]?.name,
            region: region,
            regionName: region.flatMap { regions[$0]?.name },
            purpose: id,
            legalBasis: purpose?.legalBasis,
            decision: denial == nil ? "permit" : "deny",
            refusal: denial.map { .init(code: $0.code.rawValue, reason: $0.reason) },
            referenceDay: purpose.map {
                $0.referenceDay == .today
                    ? "today (the day of the pull)"
                    : "the most recent \($0.referenceDay) (MM-DD) on or before the day of the pull"
            },
            population: purpose.map { p in p.population.map(\.description) } ?? [],
            datasets: datasets,
            retentionDays: purpose?.retentionDays,
            reidentification: purpose.map { $0.reidentification != nil },
            policyVersion: fingerprint
        )
    }
}

extension Explanation {
    /// The explanation as a security officer reads it on a terminal.
    package var text: String {
        var out: [String] = []
        let who = consumerName.map { "\($0) (\(consumer))" } ?? "\(consumer)"
        out.append("consumer: \(who)" + (region.map { ", contactgemeente of region \($0) \(regionName ?? "")" } ?? ""))
        out.append("purpose:  \(purpose)")
        out.append("policy:   \(policyVersion)")
        if let refusal {
            out.append("decision: DENIED (\(refusal.code)): \(refusal.reason)")
        } else {
            out.append("decision: PERMITTED")
        }
        if let legalBasis { out.append("legal basis: \(legalBasis)") }
        if refusal == nil {
            if let referenceDay { out.append("ages and months are counted to: \(referenceDay)") }
            if let retentionDays {
                out.append(
                    "retention: \(retentionDays) days; re-identification: \(reidentification == true ? "allowed" : "not allowed")"
                )
            }
        }
        for view in datasets {
            out.append("")
            out.append("\(view.dataset) v\(view.version): \(view.records)")
            if !view.conditions.isEmpty {
                out.append("  only records where (others are withheld):")
                out += view.conditions.map { "    - \($0)" }
            }
            out.append("  delivered: " + (view.delivered.isEmpty ? "nothing" : view.delivered.joined(separator: ", ")))
            if !view.withheld.isEmpty {
                out.append("  withheld:")
                out += view.withheld.map { "    - \($0.field): \($0.reason)" }
            }
        }
        return out.joined(separator: "\n") + "\n"
    }
}
