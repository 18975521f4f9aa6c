import Pseudonymisation

/// What one staged line of a commit does to its person's records as held, decided in memory:
/// the records are read once per person, and only what changes is written.
struct CommitApplication {
    let source: String, dataset: String, epoch: UInt32, changedAt: Double
    var summary = CommitSummary()

    enum Effect {
        /// Nothing to write: the record is held as sent, is another source's, or was not held.
        case none
        /// The record is withdrawn.
        case delete
        /// The record is added or replaced by this one.
        case write(SQLiteDeliveryIndex.StoredCurrent)
    }

    init(source: String, dataset: String, epoch: Int64, changedAt: Double) {
        (self.source, self.dataset, self.epoch, self.changedAt) = (source, dataset, UInt32(epoch), changedAt)
    }

    /// Applies a line (`fields` nil: a withdrawal) to `records`, the person's records of every
    /// source, and counts it. A source's lines act on its own records only.
    mutating func line(
        key: RecordKey,
        region: Int?,
        fields: String?,
        to records: inout [SQLiteDeliveryIndex.StoredCurrent]
    ) -> Effect {
        let held = records.firstIndex { $0.key == key }
        guard let fields, let region else {
            guard let held, records[held].source == source else {
                summary.withdrawnUnknown += 1
                return .none
            }
            records.remove(at: held)
            summary.withdrawn += 1
            return .delete
        }
        let record = SQLiteDeliveryIndex.StoredCurrent(
            key: key,
            epoch: epoch,
            source: source,
            dataset: dataset,
            region: region,
            fields: fields,
            changedAt: changedAt
        )
        guard let held else {
            records.append(record)
            summary.added += 1
            return .write(record)
        }
        let old = records[held]
        guard old.source == source, old.region != region || old.fields != fields else {
            summary.unchanged += 1
            return .none
        }
        records[held] = record
        summary.changed += 1
        return .write(record)
    }
}
