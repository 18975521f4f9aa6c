import AccessPolicy
import Foundation
import Pseudonymisation
import Records
import Storage
import VangnetCore
import VangnetCrypto

/// What the policy delivers, as the store's index needs it: for one person's current records on a
/// day, every (region, purpose) that receives them and the line each receives.
///
/// Per purpose, the person is in a region's population if a current record of the population
/// dataset in that region meets the population conditions on the reference date and is within the
/// purpose's retention; then each of their records of the purpose's datasets that meets the
/// purpose's conditions and retention is delivered to that region (a population-dataset record
/// only by its own region), under the region's pseudonym and an identifier for the record, with
/// only the purpose's fields. Records of an epoch whose keys were destroyed are never delivered.
package struct PolicyDeliveryRules: DeliveryRules {
    let purposes: [PurposePlan]
    let pseudonymiser: Pseudonymiser
    package let version: String
    package let reidentifying: Set<PurposeID>

    /// A purpose as the rules apply it to every person: per dataset it reads, the fields it
    /// delivers and the conditions a record must meet, found once rather than per record.
    struct PurposePlan: Sendable {
        let purpose: PolicyDocument.Purpose
        let datasets: [DatasetPlan]

        struct DatasetPlan: Sendable {
            let dataset: DatasetID
            /// `nil`: the purpose reads the dataset (its population) but delivers none of it.
            let fields: [String]?
            /// The versions whose records deliver other fields than ``fields``.
            let fieldsByVersion: [Int: [String]]
            let isPopulation: Bool
            /// What a record must meet to be delivered, besides population membership.
            let conditions: [RowCondition]
            /// Every condition whose answer can change with the reference date (population ones
            /// included for the population dataset).
            let dated: [RowCondition]

            /// The fields delivered of a record with these stored fields, for the version it follows.
            func delivered(of record: [String: FieldValue]) -> [String]? {
                fieldsByVersion.isEmpty ? fields : fieldsByVersion[DatasetSchema.version(of: record)] ?? fields
            }
        }

        init(_ purpose: PolicyDocument.Purpose) {
            self.purpose = purpose
            var names = Set(purpose.fields.keys)
            names.insert(purpose.populationDataset.value)
            datasets = names.sorted().map { name in
                let dataset = DatasetID(name)
                let isPopulation = dataset == purpose.populationDataset
                let conditions = purpose.conditions(for: dataset)
                return DatasetPlan(
                    dataset: dataset,
                    fields: purpose.fields[name],
                    fieldsByVersion: Dictionary(
                        uniqueKeysWithValues: (purpose.fieldsByVersion[name] ?? [:]).compactMap { version, fields in
                            Int(version).map { ($0, fields) }
                        }
                    ),
                    isPopulation: isPopulation,
                    conditions: conditions,
                    dated: isPopulation ? purpose.population + conditions : conditions
                )
            }
        }

        func plan(for dataset: DatasetID) -> DatasetPlan? { datasets.first { $0.dataset == dataset } }
    }

    package init(policy: Policy, pseudonymiser: Pseudonymiser) {
        let purposes = policy.purposeIDs.compactMap(policy.purpose)
        self.purposes = purposes.map(PurposePlan.init)
        self.pseudonymiser = pseudonymiser
        self.reidentifying = policy.reidentifyingPurposes
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var input = Array("vangnet/delivery-rules/v1:".utf8)
        input += (try? encoder.encode(purposes)).map(Array.init) ?? []
        input += Array(";epochs=\(pseudonymiser.heldEpochs.map(String.init).joined(separator: ","))".utf8)
        version = Hex.encode(GenericHash.hash(input, outputLength: 16))
    }

    package func deliveries(
        of records: [CurrentRecord],
        on day: CalendarDate
    ) -> (items: [DeliveryItem], recheck: CalendarDate?) {
        var items: [DeliveryItem] = []
        var recheck: CalendarDate?
        func soonest(_ date: CalendarDate?) {
            guard let date, date > day else { return }
            recheck = min(recheck ?? date, date)
        }
        for plan in purposes {
            let purpose = plan.purpose
            // Without a record of the population dataset the person is in no region's population,
            // and no day can change that: nothing to deliver and nothing to recheck.
            guard records.contains(where: { $0.dataset == purpose.populationDataset }) else { continue }
            let reference = purpose.referenceDay.date(on: day)
            // When the reference date is a fixed day of the year, nothing changes before its next one.
            let referenceMoves: (CalendarDate?) -> CalendarDate? = { change in
                guard change != nil else { return nil }
                switch purpose.referenceDay {
                case .today: return change
                case .annual:
                    return CalendarDate.clamped(year: reference.year + 1, month: reference.month, day: reference.day)
                }
            }
            // Per record the purpose reads and that is within its retention: its dataset's plan,
            // and for a population-dataset record whether it places the person in its region's
            // population.
            var kept: [(record: CurrentRecord, plan: PurposePlan.DatasetPlan, placed: Bool)] = []
            var regions: [RegionNumber] = []
            for record in records {
                guard let datasetPlan = plan.plan(for: record.dataset) else { continue }
                let end = Self.retentionEnd(confirmedAt: record.confirmedAt, days: purpose.retentionDays)
                soonest(end)
                soonest(
                    referenceMoves(
                        datasetPlan.dated.compactMap { $0.nextChange(for: record.fields, after: reference) }.min()
                    )
                )
                guard day < end else { continue }
                let placed =
                    datasetPlan.isPopulation
                    && purpose.population.allSatisfy { $0.holds(for: record.fields, on: reference) }
                kept.append((record, datasetPlan, placed))
                if placed && !regions.contains(record.region) { regions.append(record.region) }
            }
            for region in regions.sorted(by: { $0.value < $1.value }) {
                let stream = DeliveryStream(region: region, purpose: purpose.id)
                // One pseudonym per key epoch (a person's records share one, unless keys rotated between them).
                var pseudonyms: [(epoch: UInt32, pseudonym: DeliveryPseudonym?)] = []
                for (record, datasetPlan, placed) in kept {
                    guard let fields = datasetPlan.delivered(of: record.fields) else { continue }
                    if datasetPlan.isPopulation {
                        guard record.region == region, placed else { continue }
                    }
                    guard datasetPlan.conditions.allSatisfy({ $0.holds(for: record.fields, on: reference) }),
                        let digest = pseudonymiser.deliveryRecordDigest(
                            record.key,
                            region: region,
                            purpose: purpose.id,
                            epoch: record.person.epoch
                        )
                    else { continue }
                    let epoch = record.person.epoch
                    let pseudonym: DeliveryPseudonym?
                    if let known = pseudonyms.first(where: { $0.epoch == epoch }) {
                        pseudonym = known.pseudonym
                    } else {
                        pseudonym = pseudonymiser.deliveryPseudonym(
                            for: record.person,
                            region: region,
                            purpose: purpose.id
                        )
                        pseudonyms.append((epoch, pseudonym))
                    }
                    guard let pseudonym else { continue }
                    items.append(
                        DeliveryItem(
                            stream: stream,
                            item: digest,
                            line: Self.line(
                                id: Pseudonymiser.deliveryRecordID(digest: digest),
                                pseudonym: pseudonym,
                                dataset: record.dataset,
                                fields: fields.map { ($0, record.fields[$0]) }
                            ),
                            subject: purpose.reidentification == nil ? nil : pseudonym.text
                        )
                    )
                }
            }
        }
        return (items, recheck)
    }

    /// The first day on which a record confirmed at `confirmedAt` is past a retention of `days`
    /// (retention counts whole days, in the Netherlands' calendar).
    static func retentionEnd(confirmedAt: Date, days: Int) -> CalendarDate {
        CalendarDate.inAmsterdam(confirmedAt.addingTimeInterval(Double(days) * 86_400)).adding(days: 1)
    }

    /// One delivered record as a JSON object: `id`, `pseudonym`, `dataset`, then the purpose's
    /// fields in the policy's order (absent values as `null`).
    static func line(
        id: String,
        pseudonym: DeliveryPseudonym,
        dataset: DatasetID,
        fields: [(String, FieldValue?)]
    ) -> String {
        var out: [UInt8] = Array("{\"id\":\"\(id)\",\"pseudonym\":\"\(pseudonym.text)\",\"dataset\":".utf8)
        JSONText.appendString(dataset.value, to: &out)
        for (name, value) in fields {
            out.append(0x2C)
            JSONText.appendString(name, to: &out)
            out.append(0x3A)
            if let value { FlatJSON.appendValue(value, to: &out) } else { out.append(contentsOf: Array("null".utf8)) }
        }
        out.append(0x7D)
        return String(decoding: out, as: UTF8.self)
    }
}
